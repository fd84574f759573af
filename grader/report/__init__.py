"""Report: tables, progress, grades.csv, feedback and charts for people."""
