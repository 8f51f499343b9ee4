"""Webhook bodies and titles, without a database: the robots' JSON shapes, 钉钉 加签, masked robot keys."""

from __future__ import annotations

import base64
import hashlib
import hmac
import urllib.parse
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from gridmap.db.models import NotifyEvent
from gridmap.notify.messages import render, signed_url
from gridmap.notify.text import titles
from gridmap.notify.webhooks import _masked

TZ = ZoneInfo("Asia/Shanghai")
EVENT = NotifyEvent(
    request_id=42,
    kind="overdue",
    stage="resolve",
    status="accepted",
    created_at=datetime(2026, 5, 4, 2, 0, tzinfo=UTC),
    data={"category": "garbage", "category_name": "垃圾乱堆", "category_name_en": "Garbage piles",
          "grid_code": "320102003001002", "due": "2026-05-04T01:30:00+00:00", "department": "环卫所"},
)


def test_titles_name_the_kind_stage_category_and_number() -> None:
    zh, en = titles("overdue", "resolve", EVENT.data, 42)
    assert (zh, en) == ("已超时 · 办结 · 垃圾乱堆 #42", "Overdue · resolution · Garbage piles #42")
    assert titles("returned", None, {"action": "reject", "category": "noise"}, 7)[0] == "核查不通过 · noise #7"


def test_wecom_dingtalk_and_json_bodies() -> None:
    wecom = render("wecom", EVENT, base_url="https://gm.example.cn/", tz=TZ)
    assert list(wecom) == ["msgtype", "markdown"] and list(wecom["markdown"]) == ["content"]
    text = wecom["markdown"]["content"]
    assert text.splitlines()[0] == "**已超时 · 办结 · 垃圾乱堆 #42**"
    assert "> 截止：2026-05-04 09:30" in text and "> 时间：2026-05-04 10:00" in text  # China Standard Time
    assert text.endswith("[查看诉求 #42](https://gm.example.cn/requests/42)")
    ding = render("dingtalk", EVENT, base_url=None, tz=TZ)
    assert ding["markdown"]["title"] == "已超时 · 办结 · 垃圾乱堆 #42" and "(/requests/42)" in ding["markdown"]["text"]
    plain = render("json", EVENT, base_url=None, tz=TZ)
    assert plain["event"] == "overdue" and plain["stage"] == "resolve" and plain["status_name"] == "处置中"


def test_dingtalk_signature_is_hmac_sha256_of_timestamp_and_secret() -> None:
    url = signed_url("https://oapi.dingtalk.com/robot/send?access_token=abc", "SECxyz", now_ms=1700000000000)
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)
    expected = hmac.new(b"SECxyz", b"1700000000000\nSECxyz", hashlib.sha256).digest()
    assert query["timestamp"] == ["1700000000000"] and base64.b64decode(query["sign"][0]) == expected
    assert signed_url("https://x.test/hook", None) == "https://x.test/hook"


def test_robot_keys_are_masked_in_listings() -> None:
    assert _masked("https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=693a91f6") == (
        "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=****"
    )
