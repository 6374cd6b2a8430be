"""Every aiohttp AppKey of the gateway, declared once with its type."""

from __future__ import annotations

import aiohttp
from aiohttp import web
from pymongo import AsyncMongoClient

from core.db import Database, Document
from core.settings import Settings
from handoff.bus import EventBus
from handoff.delivery import DeliveryRegistry
from handoff.router import Router
from handoff.services import HandoffServices
from knowledge_base.service import KnowledgeBase

SETTINGS_KEY = web.AppKey("settings", Settings)
MONGO_CLIENT_KEY = web.AppKey("mongo_client", AsyncMongoClient[Document])
DB_KEY = web.AppKey("db", Database)
HTTP_SESSION_KEY = web.AppKey("http_session", aiohttp.ClientSession)
ROUTER_KEY = web.AppKey("router", Router)
DELIVERY_KEY = web.AppKey("delivery", DeliveryRegistry)
BUS_KEY = web.AppKey("event_bus", EventBus)
HANDOFF_KEY = web.AppKey("handoff", HandoffServices)
KB_KEY = web.AppKey("knowledge_base", KnowledgeBase)
