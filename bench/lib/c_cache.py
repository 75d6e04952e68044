"""Comparison 5: a fully cached re-run of a 30-job pipeline (`ddmd-pipe run`, second time)
against `dvc repro` of the same graph (a dvc.yaml with the same commands, in a temp git repo).

Graph: three stages of `width` jobs each, b_i needs a_i, c_i needs b_i (3 × 10 = 30 jobs).
Both tools run once to populate their caches (not timed), then the re-run is timed; the
driver checks that the re-run executed nothing (ours: no new run rows ran; DVC: its output).
"""
import tempfile
from pathlib import Path

from common import ROOT, BenchError, Row, Sample, ddmd, ddmd_query, paired_ratio, run

DVC = str(ROOT / ".venv/bin/dvc")


def _ours_spec(width):
    points = ", ".join(str(i) for i in range(width))
    return f"""name: bench-cache
stages:
  a:
    kind: command
    matrix:
      i: [{points}]
    params:
      run: echo {{{{ i }}}} > $DDMD_ARTIFACTS/out.txt
  b:
    kind: command
    needs: [a]
    params:
      run: cat {{{{ needs.a[0].artifacts }}}}/out.txt > $DDMD_ARTIFACTS/out.txt && echo b >> $DDMD_ARTIFACTS/out.txt
  c:
    kind: command
    needs: [b]
    params:
      run: cat {{{{ needs.b[0].artifacts }}}}/out.txt > $DDMD_ARTIFACTS/out.txt && echo c >> $DDMD_ARTIFACTS/out.txt
"""


def _dvc_yaml(width):
    lines = ["stages:"]
    for i in range(width):
        lines += [f"  a_{i}:", f"    cmd: echo {i} > a_{i}.txt", "    outs:", f"      - a_{i}.txt"]
        for prev, cur in (("a", "b"), ("b", "c")):
            lines += [f"  {cur}_{i}:",
                      f"    cmd: cat {prev}_{i}.txt > {cur}_{i}.txt && echo {cur} >> {cur}_{i}.txt",
                      "    deps:", f"      - {prev}_{i}.txt", "    outs:", f"      - {cur}_{i}.txt"]
    return "\n".join(lines) + "\n"


def cache_row(size):
    width, reps = 10, max(size["reps"], 3)
    env = {"DVC_NO_ANALYTICS": "1", "GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@x",
           "GIT_COMMITTER_NAME": "b", "GIT_COMMITTER_EMAIL": "b@x"}
    with tempfile.TemporaryDirectory(prefix="ddmd-bench-cache-") as tmp:
        tmp = Path(tmp)
        spec, home = tmp / "cache.yaml", tmp / "home"
        spec.write_text(_ours_spec(width))
        ddmd(["run", str(spec), "--quiet"], home, cwd=tmp)
        count = "SELECT status, count(*) AS n FROM runs GROUP BY status ORDER BY status"
        before = ddmd_query(home, count)

        repo = tmp / "dvc"
        repo.mkdir()
        run(["git", "init", "-q"], cwd=repo, env=env)
        run([DVC, "init", "-q"], cwd=repo, env=env)
        run([DVC, "config", "core.analytics", "false"], cwd=repo, env=env)
        (repo / "dvc.yaml").write_text(_dvc_yaml(width))
        run([DVC, "repro", "-q"], cwd=repo, env=env)

        # Both caches are warm; each repetition times our re-run and DVC's back to back, so
        # the ratio is paired like the other rows' (load drift hits both sides alike).
        ours, peer = [], []
        for _ in range(reps):
            wall, _, _ = ddmd(["run", str(spec), "--quiet"], home, cwd=tmp)
            ours.append(wall)
            wall, out, _ = run([DVC, "repro"], cwd=repo, env=env)
            if "Running stage" in out:
                raise BenchError(f"dvc repro re-ran stages:\n{out[-1500:]}")
            peer.append(wall)
        after = ddmd_query(home, count)
        want = [{"status": "cached", "n": 3 * width * reps},
                {"status": "succeeded", "n": 3 * width}]
        if before != want[1:] or after != want:
            raise BenchError(f"the re-runs were not fully cached: runs {before} → {after}")
    o, p = Sample(ours, "s"), Sample(peer, "s")
    ratio = paired_ratio(o, p)
    return [Row("5", "5. fully cached re-run, 30 jobs vs dvc repro", o, p, ratio, "paired",
                "≤ 0.2×", ratio <= 0.2,
                ["wall time of the whole command (process start included); the re-runs are "
                 "checked to have executed nothing (ours: only `cached` rows added; DVC: no "
                 "`Running stage`)"])]
