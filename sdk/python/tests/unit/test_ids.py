"""workflow.uuid4() and default child workflow ids are the TypeScript SDK's:
sfc32 seeded with the cyrb128 hash of the run id, one draw per hex digit
(sdk/typescript/src/workflow/internals.ts, hashSeed / sfc32 / uuid4Of), so
a history with default child ids moves between the SDKs. The expected
values were computed by those functions of the built TypeScript SDK (node).
Temporal: workflow.uuid4() is "deterministic ... same on replay"
(temporalio/sdk-python temporalio/workflow.py uuid4)."""
import unittest

from durable._runtime import _Sfc32


class TypeScriptIdsTest(unittest.TestCase):
    def test_same_uuids_as_the_typescript_sdk(self):
        cases = {
            "0f3c8a56-1c7e-4b8e-9a53-0a5b7c1d2e3f": ["5b6e711a-2916-4425-9dbf-b10dd0deccba",
                                                     "5669c87d-794b-4693-bb6e-52f6e997bb1f"],
            "": ["b7470fdb-8d10-4306-8bc0-feb932367990", "871a1fba-0f8a-40ab-a8fe-8ea2c667f10a"],
            # non-ASCII and a character outside the BMP: hashed as UTF-16 code units, as charCodeAt
            "h\u00e9llo\U0001d11e": ["3f0f57d8-1d19-440e-85e8-3db9021e7f5e", "eec7c6e5-6b9c-47ba-b9d6-264b1efa6091"],
        }
        for seed, want in cases.items():
            g = _Sfc32(seed)
            self.assertEqual([g.uuid4(), g.uuid4()], want, seed)

    def test_version_and_variant(self):
        u = _Sfc32("x").uuid4()
        self.assertEqual((u[14], u[19] in "89ab", len(u)), ("4", True, 36))


if __name__ == "__main__":
    unittest.main()
