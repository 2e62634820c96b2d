"""The minimal worker of test/conformance (standard library and psql only,
written from docs/protocol.md alone) drives a live engine: it starts one
workflow per conformance script, serves their tasks through `psql`, and
checks every completion's answer and every result (`minimal_worker.py
--live`). Shows that the protocol document is enough to build a worker
that runs real workflows, not only one that replays recorded histories."""
import glob
import os
import subprocess
import sys
import unittest
from pathlib import Path

import harness

ROOT = Path(__file__).resolve().parents[4]
CLUSTER = harness.ModuleCluster()
setUpModule = CLUSTER.start
tearDownModule = CLUSTER.stop


class MinimalWorkerLive(unittest.TestCase):
    def test_live_engine(self):
        fixtures = sorted(glob.glob(str(ROOT / "test" / "conformance" / "*.json")))
        env = dict(os.environ, PATH=f"{CLUSTER.bin}:{os.environ.get('PATH', '')}")
        r = subprocess.run([sys.executable, str(ROOT / "test" / "conformance" / "minimal_worker.py"),
                            "--live", CLUSTER.dsn, *fixtures], capture_output=True, text=True, timeout=120, env=env)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertRegex(r.stdout, r"\n6 passed, 0 failed\n?$")


if __name__ == "__main__":
    unittest.main()
