"""Comparison 5: a fully cached re-run of a 30-job pipeline (`ddmd-pipe run`, second time)
against `dvc repro` of the same graph (a dvc.yaml with the same commands, in a temp git repo).

Graph: three stages of `width` jobs each, b_i needs a_i, c_i needs b_i (3 × 10 = 30 jobs); a_i
writes `cache_bytes` bytes (`yes i | head -c`), b_i and c_i copy their input and append a line,
so the artifacts have the same sizes on both sides (checked). Our jobs report their file as an
artifact event, so it is recorded with its sha256.

5:  `ddmd-pipe run`: a job is cached when a succeeded run with its key exists and its artifact
    folder exists; nothing is hashed. `dvc repro` compares the recorded hashes of every stage's
    deps and outs, so these two do different work (the row's note says so).
5b: `ddmd-pipe run --verify` hashes every recorded artifact of every cached result again; dvc
    re-hashes only files whose inode, mtime or size changed since it last hashed them (its state
    database), so on an untouched tree it hashes nothing: the difference that remains.

Both tools run once to populate their caches (not timed); each repetition then times our
re-run, our re-run with --verify and DVC's re-run back to back, and the driver checks that the
re-runs executed nothing (ours: only `cached` rows added, and --verify says it hashed every
artifact; DVC: no `Running stage` in its output).
"""
import re
import tempfile
from pathlib import Path

from common import ROOT, BenchError, Row, Sample, ddmd, ddmd_query, paired_ratio, run

DVC = str(ROOT / ".venv/bin/dvc")

# The event a job appends so that its file is recorded as an artifact (path, bytes, sha256).
ARTIFACT_EVENT = """'{"seq": 0, "type": "artifact", "name": "out", "path": "out.txt"}'"""


def _ours_spec(width, nbytes):
    points = ", ".join(str(i) for i in range(width))
    report = f"echo {ARTIFACT_EVENT} >> $DDMD_EVENTS"
    return f"""name: bench-cache
stages:
  a:
    kind: command
    matrix:
      i: [{points}]
    params:
      run: |
        yes {{{{ i }}}} | head -c {nbytes} > $DDMD_ARTIFACTS/out.txt &&
        {report}
  b:
    kind: command
    needs: [a]
    params:
      run: |
        cat {{{{ needs.a[0].artifacts }}}}/out.txt > $DDMD_ARTIFACTS/out.txt &&
        echo b >> $DDMD_ARTIFACTS/out.txt &&
        {report}
  c:
    kind: command
    needs: [b]
    params:
      run: |
        cat {{{{ needs.b[0].artifacts }}}}/out.txt > $DDMD_ARTIFACTS/out.txt &&
        echo c >> $DDMD_ARTIFACTS/out.txt &&
        {report}
"""


def _dvc_yaml(width, nbytes):
    lines = ["stages:"]
    for i in range(width):
        lines += [f"  a_{i}:", f"    cmd: yes {i} | head -c {nbytes} > a_{i}.txt", "    outs:",
                  f"      - a_{i}.txt"]
        for prev, cur in (("a", "b"), ("b", "c")):
            lines += [f"  {cur}_{i}:",
                      f"    cmd: cat {prev}_{i}.txt > {cur}_{i}.txt && echo {cur} >> {cur}_{i}.txt",
                      "    deps:", f"      - {prev}_{i}.txt", "    outs:", f"      - {cur}_{i}.txt"]
    return "\n".join(lines) + "\n"


def _check_verified(err, jobs):
    """--verify prints how many artifacts of how many cached results it hashed."""
    m = re.search(r"--verify: (\d+) artifact\(s\) of (\d+) cached result\(s\) hashed", err)
    if not m or (int(m.group(1)), int(m.group(2))) != (jobs, jobs):
        raise BenchError(f"`run --verify` did not hash {jobs} artifacts of {jobs} cached "
                         f"results:\n{err[-1500:]}")


def cache_row(size):
    width, reps, nbytes = 10, max(size["reps"], 3), size["cache_bytes"]
    jobs = 3 * width
    env = {"DVC_NO_ANALYTICS": "1", "GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@x",
           "GIT_COMMITTER_NAME": "b", "GIT_COMMITTER_EMAIL": "b@x"}
    with tempfile.TemporaryDirectory(prefix="ddmd-bench-cache-") as tmp:
        tmp = Path(tmp)
        spec, home = tmp / "cache.yaml", tmp / "home"
        spec.write_text(_ours_spec(width, nbytes))
        ddmd(["run", str(spec), "--quiet"], home, cwd=tmp)
        count = "SELECT status, count(*) AS n FROM runs GROUP BY status ORDER BY status"
        before = ddmd_query(home, count)
        recorded = ddmd_query(home, "SELECT count(*) AS n, sum(bytes) AS bytes, "
                                    "count(sha256) AS hashed FROM artifacts")[0]

        repo = tmp / "dvc"
        repo.mkdir()
        run(["git", "init", "-q"], cwd=repo, env=env)
        run([DVC, "init", "-q"], cwd=repo, env=env)
        run([DVC, "config", "core.analytics", "false"], cwd=repo, env=env)
        (repo / "dvc.yaml").write_text(_dvc_yaml(width, nbytes))
        run([DVC, "repro", "-q"], cwd=repo, env=env)
        dvc_bytes = sum(f.stat().st_size for f in repo.glob("[abc]_*.txt"))
        want_bytes = width * (3 * nbytes + 2 + 4)
        if recorded != {"n": jobs, "bytes": want_bytes, "hashed": jobs} or dvc_bytes != want_bytes:
            raise BenchError(f"artifacts differ: ours {recorded}, DVC {dvc_bytes} bytes; "
                             f"want {jobs} files, {want_bytes} bytes on each side")

        # Both caches are warm; each repetition times our re-run, our re-run with --verify and
        # DVC's back to back, so both ratios are paired like the other rows' (load drift hits
        # every side alike).
        ours, verify, peer = [], [], []
        for _ in range(reps):
            wall, _, _ = ddmd(["run", str(spec), "--quiet"], home, cwd=tmp)
            ours.append(wall)
            wall, _, err = ddmd(["run", str(spec), "--quiet", "--verify"], home, cwd=tmp)
            _check_verified(err, jobs)
            verify.append(wall)
            wall, out, _ = run([DVC, "repro"], cwd=repo, env=env)
            if "Running stage" in out:
                raise BenchError(f"dvc repro re-ran stages:\n{out[-1500:]}")
            peer.append(wall)
        after = ddmd_query(home, count)
        want = [{"status": "cached", "n": jobs * reps * 2},
                {"status": "succeeded", "n": jobs}]
        if before != want[1:] or after != want:
            raise BenchError(f"the re-runs were not fully cached: runs {before} → {after}")
    o, v, p = Sample(ours, "s"), Sample(verify, "s"), Sample(peer, "s")
    ratio, ratio_v = paired_ratio(o, p), paired_ratio(v, p)
    files = f"{jobs} artifacts, {want_bytes:,} bytes on each side, checked"
    return [Row("5", "5. fully cached re-run, 30 jobs vs dvc repro", o, p, ratio, "paired",
                "≤ 0.2×", ratio <= 0.2,
                ["wall time of the whole command (process start included); the re-runs are "
                 "checked to have executed nothing (ours: only `cached` rows added; DVC: no "
                 "`Running stage`).",
                 f"Not the same work: ours takes a result as cached when its run succeeded and "
                 f"its artifact folder exists, hashing nothing; dvc repro checks the recorded "
                 f"hashes of every stage's deps and outs ({files}). Row 5b runs ours with "
                 f"--verify"]),
            Row("5b", "5b. the same, ours with `run --verify` (every artifact hashed) vs dvc "
                "repro", v, p, ratio_v, "paired", "≤ 0.2× (row 5's)", ratio_v <= 0.2,
                [f"row 5's pipeline and DVC re-runs (the same repetitions: ours, ours "
                 f"--verify, DVC, back to back); --verify hashes every artifact of every cached "
                 f"result with sha256 ({files}; the count read from its output), and the re-runs "
                 f"are checked to have executed nothing. What still differs: dvc re-hashes a file "
                 f"only when its inode, mtime or size changed since it last hashed it (its "
                 f"state database), so on this untouched tree it hashes nothing, while --verify "
                 f"reads every byte"])]
