"""Every ORM model, imported so that ``metadata`` describes the whole schema.

Alembic's autogenerate and the drift test read this module; a new domain adds its models here.
"""

from app.accounts.models import RefreshToken, User
from app.core.db import Base
from app.core.idempotency_models import IdempotencyKey
from app.events.models import Event
from app.households.models import Household, HouseholdAccess
from app.inbox.models import Notification, NotificationSettings
from app.matchmaking.models import MatchingRun
from app.needs.models import Need
from app.notifications.models import JobRun, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from app.offers.models import Offer
from app.pairings.models import Pairing, SuccessSegment
from app.photos.models import Photo
from app.regions.models import Region

metadata = Base.metadata

__all__ = [
    "Event",
    "Household",
    "HouseholdAccess",
    "IdempotencyKey",
    "JobRun",
    "MatchingRun",
    "Need",
    "Notification",
    "NotificationSettings",
    "Offer",
    "Pairing",
    "Photo",
    "RefreshToken",
    "Region",
    "SuccessSegment",
    "User",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookEndpoint",
    "metadata",
]
