"""The test harness itself: a private cluster with durable preloaded and installed, gone after stop()."""
import os
import unittest

import psycopg

import harness

CLUSTER = harness.ModuleCluster()
setUpModule = CLUSTER.start
tearDownModule = CLUSTER.stop


class HarnessTest(unittest.TestCase):
    def test_extension_and_settings(self):
        with psycopg.connect(CLUSTER.dsn, autocommit=True) as c:
            self.assertEqual(c.execute("SHOW shared_preload_libraries").fetchone()[0], "durable")
            self.assertEqual(c.execute("SHOW listen_addresses").fetchone()[0], "")
            self.assertEqual(c.execute("SELECT count(*) FROM pg_extension WHERE extname = 'durable'").fetchone()[0], 1)
            # the SQL API answers: a start and its description
            c.execute("SELECT durable.start_workflow('t', '[1]'::jsonb, 'harness-1', 'q')")
            self.assertEqual(c.execute("SELECT status FROM durable.workflows WHERE workflow_id = 'harness-1'")
                             .fetchone()[0], "running")

    def test_second_cluster_is_removed_on_stop(self):
        c = harness.start_cluster()
        d = c.dir
        self.assertNotEqual(c.port, CLUSTER.port)
        with psycopg.connect(c.dsn) as conn:
            self.assertEqual(conn.execute("SELECT 1").fetchone()[0], 1)
        c.stop()
        self.assertFalse(os.path.exists(d))
        c.stop()    # idempotent

    def test_failed_start_cleans_up(self):
        c = harness.Cluster(extra_conf=["no_such_setting_at_all = 1"])
        with self.assertRaises(RuntimeError):
            c.start()
        self.assertEqual(c.dir, "")
        self.assertNotIn(c, harness._LIVE)


if __name__ == "__main__":
    unittest.main()
