"""Every ORM model, imported so that ``metadata`` describes the whole schema.

Alembic's autogenerate and the drift test read this module; a new domain adds its models here.
"""

from app.accounts.models import RefreshToken, User
from app.core.db import Base
from app.core.idempotency_models import IdempotencyKey
from app.events.models import Event
from app.funds.models import (
    Allocation,
    AllocationItem,
    Donation,
    FundAccount,
    FundEntry,
    FundTransaction,
    NeedFunding,
    PaymentNotification,
    ReceiptCounter,
)
from app.helpers.models import HelpAct, Helper, HelperAssignment
from app.households.models import Household, HouseholdAccess
from app.inbox.models import Notification, NotificationSettings
from app.matchmaking.models import MatchingRun
from app.needs.models import Need
from app.notifications.models import JobRun, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from app.offers.models import Offer
from app.pairings.models import Pairing, SuccessSegment
from app.photos.models import Photo
from app.programmes.models import (
    Programme,
    ProgrammePairing,
    SponsorshipPayment,
    Student,
    TutoringSession,
    Volunteer,
)
from app.regions.models import Region

metadata = Base.metadata

__all__ = [
    "Allocation",
    "AllocationItem",
    "Donation",
    "Event",
    "FundAccount",
    "FundEntry",
    "FundTransaction",
    "HelpAct",
    "Helper",
    "HelperAssignment",
    "Household",
    "HouseholdAccess",
    "IdempotencyKey",
    "JobRun",
    "MatchingRun",
    "Need",
    "NeedFunding",
    "Notification",
    "NotificationSettings",
    "Offer",
    "Pairing",
    "PaymentNotification",
    "Photo",
    "Programme",
    "ProgrammePairing",
    "ReceiptCounter",
    "RefreshToken",
    "Region",
    "SponsorshipPayment",
    "Student",
    "SuccessSegment",
    "TutoringSession",
    "User",
    "Volunteer",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookEndpoint",
    "metadata",
]
