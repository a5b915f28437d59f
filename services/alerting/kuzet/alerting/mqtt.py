"""MQTT publishing for integrations: each update as JSON on ``<prefix>/<agency>/<site>/alerts``.

MQTT is a notification side channel: QoS 1 with paho's own in-flight queue while the broker is
briefly away. The durable record (and resume) is the update log behind Subscribe.
"""

from __future__ import annotations

import logging
import re
from urllib.parse import urlparse

import paho.mqtt.client as mqtt
from google.protobuf import json_format

from kuzet.alerting import domain
from kuzet.alerting.v1 import alerting_pb2 as pb

log = logging.getLogger(__name__)
_TOPIC_UNSAFE = re.compile(r"[+#/\x00]")


def topic_for(prefix: str, alert: pb.Alert) -> str:
    # Ids become topic levels: MQTT wildcards and separators inside them would change the meaning.
    agency = _TOPIC_UNSAFE.sub("_", alert.agency_id)
    site = _TOPIC_UNSAFE.sub("_", alert.site_id) or "_"
    return f"{prefix}/{agency}/{site}/alerts"


class MqttPublisher:
    def __init__(self, url: str, prefix: str = "kuzet", client_id: str = "kuzet-alerting") -> None:
        parsed = urlparse(url)
        if parsed.scheme not in ("mqtt", "tcp") or not parsed.hostname:
            raise ValueError(f"mqtt url must look like mqtt://host:1883, got {parsed.scheme}://...")
        self.prefix = prefix
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id)
        if parsed.username:
            self.client.username_pw_set(parsed.username, parsed.password)
        self.client.max_queued_messages_set(10_000)
        self.client.reconnect_delay_set(1, 30)
        self.client.connect_async(parsed.hostname, parsed.port or 1883, keepalive=30)
        self.client.loop_start()
        self.published = 0

    def notify(self, updates: list[pb.AlertUpdate]) -> None:
        for update in updates:
            if update.alert.type in domain.INTERNAL_ONLY_TYPES:
                continue
            payload = json_format.MessageToJson(update, indent=None)
            info = self.client.publish(topic_for(self.prefix, update.alert), payload, qos=1)
            if info.rc == mqtt.MQTT_ERR_SUCCESS:
                self.published += 1
            elif info.rc != mqtt.MQTT_ERR_NO_CONN:
                log.warning("MQTT publish failed (rc=%s)", info.rc, extra={"agency": update.alert.agency_id})

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()
