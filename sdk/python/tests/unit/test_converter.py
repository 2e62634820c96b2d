"""durable.converter: payloads to and from JSON.

Semantics follow Temporal Python's default JSON payload converter
(https://github.com/temporalio/sdk-python/blob/main/temporalio/converter.py:
dataclasses to dicts and back by type hints, enums by value, datetimes as ISO
text) and durable's header envelope (docs/protocol.md "Headers").
"""

import unittest
from dataclasses import dataclass, field
from datetime import datetime, timezone
from enum import Enum
from typing import Dict, List, Optional

from durable.converter import decode, decode_args, encode, encode_args, split_headers


class Color(Enum):
    RED = "red"
    BLUE = "blue"


@dataclass
class Item:
    sku: str
    qty: int = 1


@dataclass
class Order:
    id: str
    items: List[Item] = field(default_factory=list)
    color: Optional[Color] = None
    at: Optional[datetime] = None
    by_sku: Dict[str, Item] = field(default_factory=dict)
    note: "Optional[str]" = None


class EncodeTest(unittest.TestCase):
    def test_encode(self):
        at = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
        o = Order("o1", [Item("a", 2)], Color.RED, at, {"a": Item("a")})
        self.assertEqual(encode(o), {"id": "o1", "items": [{"sku": "a", "qty": 2}], "color": "red",
                                     "at": "2026-01-02T03:04:05+00:00", "by_sku": {"a": {"sku": "a", "qty": 1}},
                                     "note": None})
        self.assertEqual(encode((1, (2, 3))), [1, [2, 3]])
        self.assertEqual(encode({"k": Color.BLUE}), {"k": "blue"})
        self.assertEqual(encode_args([1, Item("x")]), [1, {"sku": "x", "qty": 1}])
        self.assertIsNone(encode(None))


class DecodeTest(unittest.TestCase):
    def test_dataclass_round_trip(self):
        at = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
        o = Order("o1", [Item("a", 2), Item("b")], Color.BLUE, at, {"a": Item("a")}, "n")
        self.assertEqual(decode(encode(o), Order), o)

    def test_list_of_dataclasses(self):
        self.assertEqual(decode([{"sku": "a", "qty": 3}], List[Item]), [Item("a", 3)])
        self.assertEqual(decode([{"sku": "a"}], list[Item]), [Item("a")])

    def test_no_hint_keeps_value(self):
        self.assertEqual(decode({"a": 1}), {"a": 1})
        self.assertEqual(decode({"sku": "a"}, dict), {"sku": "a"})
        self.assertEqual(decode(3, int), 3)
        self.assertEqual(decode(3, float), 3.0)
        self.assertIsNone(decode(None, Item))
        self.assertEqual(decode({"sku": "a"}, Optional[Item]), Item("a"))
        self.assertEqual(decode({"sku": "a"}, Item | None), Item("a"))

    def test_decode_args_by_signature(self):
        class Wf:
            async def run(self, order: Order, n: int, *rest: Item) -> None:
                pass

        args = decode_args([{"id": "o"}, 2, {"sku": "x"}, {"sku": "y"}], Wf.run)
        self.assertEqual(args, [Order("o"), 2, Item("x"), Item("y")])

    def test_decode_args_plain_function_and_none(self):
        def act(item: Item, note: str) -> str:
            return note

        self.assertEqual(decode_args([{"sku": "a"}, "hi"], act), [Item("a"), "hi"])
        self.assertEqual(decode_args(None, act), [])
        self.assertEqual(decode_args([1, 2]), [1, 2])

    def test_header_envelope(self):
        def act(item: Item) -> None:
            pass

        env = {"__durable_headers": {"h": {"data": "x"}}, "args": [{"sku": "z"}]}
        self.assertEqual(decode_args(env, act), [Item("z")])
        self.assertEqual(split_headers(env), ({"h": {"data": "x"}}, [{"sku": "z"}]))
        self.assertEqual(split_headers([1]), ({}, [1]))


if __name__ == "__main__":
    unittest.main()
