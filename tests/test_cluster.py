"""Scale-out on Dask: a real distributed.LocalCluster on loopback grades like the local run."""

from __future__ import annotations

import pytest
from sample import AUTOGRADED_POINTS, WRONG, solved, with_answers, write_submission

from grader.judge.batch import autograde


@pytest.mark.slow
def test_dask_cluster_grades_equal_the_local_run(course, release_nb):
    """Do grades from a LocalCluster equal a local autograde of the same class, gradebook included?"""
    from distributed import LocalCluster

    reference = solved(release_nb)
    write_submission(course.root, "ada", reference)
    write_submission(course.root, "ben", with_answers(reference, {WRONG[0].question: WRONG[0].source}))
    write_submission(course.root, "cy", release_nb)
    write_submission(course.root, "di", b"not a notebook")
    local = {r.student: r.to_json() for r in autograde(course, jobs=1, show_progress=False)}
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None) as cluster:
        remote = {r.student: r.to_json() for r in autograde(course, cluster=cluster.scheduler_address, show_progress=False)}
    assert remote == local
    assert local["ada"]["score"] == AUTOGRADED_POINTS and local["cy"]["score"] == 0
