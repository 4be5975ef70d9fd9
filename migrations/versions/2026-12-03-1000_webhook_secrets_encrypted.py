"""Webhook endpoints' secrets are stored encrypted: webhook_endpoints.secret_encrypted, and the plaintext secret column becomes nullable.

Migrations do not hold the data key, so this one moves no data: the worker encrypts each
plaintext secret an older version left, on its next round, and empties the plaintext column
(app/notifications/delivery.py, seal_secrets). Going below this revision drops the encrypted
secrets; the plaintext column stays nullable, since the endpoints registered at this revision
have none, and the worker of this revision disables such an endpoint when it comes back up.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03 10:00:00+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0013'
down_revision: str | None = '0012'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('webhook_endpoints', schema=None) as batch_op:
        batch_op.add_column(sa.Column('secret_encrypted', sa.LargeBinary(), nullable=True))
        batch_op.alter_column('secret', existing_type=sa.String(length=100), nullable=True)


def downgrade() -> None:
    # The encrypted secrets cannot be opened here: they go, and their endpoints keep a null secret.
    with op.batch_alter_table('webhook_endpoints', schema=None) as batch_op:
        batch_op.drop_column('secret_encrypted')
