"""Per-key budgets: spend per key from the request logs (refreshed in the background) plus what this process
has spent since; a key past its budget gets 429 quota_exceeded."""
import threading
from decimal import Decimal

from sqlalchemy import func, select

from gateway import exceptions as exc
from gateway.auth import KeyRecord
from models import ApiKey, RequestLog


class SpendLedger:
    """The database total is re-read every catalog refresh; spend since then is added locally, so a key can
    overshoot its budget by at most what is in flight in the other workers during one refresh interval."""

    def __init__(self, sessionmaker):
        self._sessionmaker = sessionmaker
        self._db: dict[int, Decimal] = {}
        self._local: dict[int, Decimal] = {}
        self._lock = threading.Lock()

    def refresh(self) -> None:
        with self._sessionmaker() as s:
            budgeted = select(ApiKey.id).where(ApiKey.budget_usd.is_not(None))
            rows = s.execute(select(RequestLog.key_id, func.sum(RequestLog.cost_usd))
                             .where(RequestLog.key_id.in_(budgeted)).group_by(RequestLog.key_id)).all()
        with self._lock:
            self._db = {k: Decimal(str(v or 0)) for k, v in rows}
            self._local = {}

    def add(self, key_id: int | None, cost: Decimal | None) -> None:
        if key_id is None or not cost:
            return
        with self._lock:
            self._local[key_id] = self._local.get(key_id, Decimal(0)) + cost

    def spent(self, key_id: int) -> Decimal:
        return self._db.get(key_id, Decimal(0)) + self._local.get(key_id, Decimal(0))

    def check(self, key: KeyRecord) -> None:
        if key.budget_usd is not None and self.spent(key.id) >= key.budget_usd:
            raise exc.QuotaExceeded(f"This key has used its budget of ${key.budget_usd}.")
