"""SQLAlchemy models of Switchyard: keys, providers, priced models, routes, request logs and stored responses."""
from models.base import Base
from models.api_key import ApiKey
from models.provider import Provider
from models.model_price import ModelPrice
from models.route import Route, RouteTarget
from models.request_log import RequestLog, RequestAttempt
from models.admin_user import AdminUser
from models.stored_response import StoredResponse
from models.team import Team
from models.spend_counter import SpendCounter
from models.usage_rollup import UsageRollup
from models.price_row import PriceRow

__all__ = ["Base", "ApiKey", "Provider", "ModelPrice", "Route", "RouteTarget", "RequestLog", "RequestAttempt", "AdminUser",
           "StoredResponse", "Team", "SpendCounter", "UsageRollup", "PriceRow"]
