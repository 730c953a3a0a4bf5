"""Traces and the users' feedback on answers, stored in the warehouse over the pymongo API."""

from collections.abc import Iterator
from typing import Any

import pymongo
from loguru import logger
from pymongo.database import Database

from llm_engineering.domain.exceptions import TwinError
from llm_engineering.domain.feedback import RatedAnswer
from llm_engineering.domain.inference import Feedback, Trace
from llm_engineering.infrastructure.warehouse.outages import reaching_mongo

TRACES = "traces"
FEEDBACK = "feedback"
_IN_BATCH = 500  # answer ids per `$in` query when joining feedback with traces


class UnknownAnswerError(TwinError, LookupError):
    """Feedback names an answer id that no stored trace has (the service answers 404)."""


def trace_to_mongo(trace: Trace) -> dict[str, Any]:
    """A Mongo dict; stage timings become name/seconds pairs since stage names may hold dots.

    Datetimes stay datetimes, so they come back to the millisecond (what BSON dates hold), in UTC.
    """
    data = trace.model_dump(exclude={"id", "timings_s"})
    data["_id"] = trace.id
    data["timings_s"] = [{"stage": stage, "seconds": seconds} for stage, seconds in trace.timings_s.items()]
    return data


def trace_from_mongo(data: dict[str, Any]) -> Trace:
    """Inverse of `trace_to_mongo`."""
    fields = {key: value for key, value in data.items() if key not in {"_id", "timings_s"}}
    timings = {pair["stage"]: pair["seconds"] for pair in data["timings_s"]}
    return Trace(id=data["_id"], timings_s=timings, **fields)


def feedback_to_mongo(feedback: Feedback) -> dict[str, Any]:
    data = feedback.model_dump(exclude={"id"})
    data["_id"] = feedback.id
    return data


def feedback_from_mongo(data: dict[str, Any]) -> Feedback:
    return Feedback(id=data["_id"], **{key: value for key, value in data.items() if key != "_id"})


class MongoFeedbackStore:
    """Traces and feedback in the warehouse (`FeedbackStore` and `TraceSink`) over the pymongo API.

    Every feedback is kept, each under its own id, so the history of verdicts survives; the latest
    verdict on an answer is the one that counts (`rated_answers`).
    """

    def __init__(self, database: Database) -> None:
        self._db = database
        self._traces = database[TRACES]
        self._feedback = database[FEEDBACK]
        with reaching_mongo(self._db, "creating the monitoring indexes"):
            self._traces.create_index("created_at")
            self._feedback.create_index("answer_id")

    def record(self, trace: Trace) -> None:
        """Store one trace; recording the same id again replaces it."""
        data = trace_to_mongo(trace)
        with reaching_mongo(self._db, f"storing trace {trace.id}"):
            self._traces.replace_one({"_id": data["_id"]}, data, upsert=True)

    def get_trace(self, trace_id: str) -> Trace | None:
        """The trace with that id, or None when there is none."""
        with reaching_mongo(self._db, f"reading trace {trace_id}"):
            found = self._traces.find_one({"_id": trace_id})
        return trace_from_mongo(found) if found else None

    def add_feedback(self, feedback: Feedback) -> None:
        """Keep a verdict on a stored answer; sending the same feedback id again replaces it."""
        with reaching_mongo(self._db, f"storing feedback on answer {feedback.answer_id}"):
            if not self._traces.count_documents({"_id": feedback.answer_id}, limit=1):
                raise UnknownAnswerError(
                    f"No answer has id {feedback.answer_id!r}; send the id the answer came with."
                )
            data = feedback_to_mongo(feedback)
            self._feedback.replace_one({"_id": data["_id"]}, data, upsert=True)

    def iter_feedback(self) -> Iterator[Feedback]:
        """Every feedback ever given, oldest first (ties by id)."""
        with reaching_mongo(self._db, "reading feedback"):
            for data in self._feedback.find().sort(
                [("created_at", pymongo.ASCENDING), ("_id", pymongo.ASCENDING)]
            ):
                yield feedback_from_mongo(data)

    def rated_answers(self) -> Iterator[RatedAnswer]:
        """The latest verdict per answer with its question and answer, in the order of those verdicts.

        A verdict whose trace was deleted since is skipped with a warning: there is nothing to pair it with.
        """
        latest: dict[str, Feedback] = {}
        for feedback in self.iter_feedback():
            latest.pop(feedback.answer_id, None)  # re-insert so the dict keeps verdict order
            latest[feedback.answer_id] = feedback
        answer_ids = list(latest)
        for start in range(0, len(answer_ids), _IN_BATCH):
            batch = answer_ids[start : start + _IN_BATCH]
            with reaching_mongo(self._db, "joining feedback with traces"):
                traces = {data["_id"]: data for data in self._traces.find({"_id": {"$in": batch}})}
            missing = [answer_id for answer_id in batch if answer_id not in traces]
            if missing:
                logger.warning("{} feedback verdicts name deleted traces; skipped", len(missing))
            for answer_id in batch:
                if answer_id in traces:
                    yield _rated(latest[answer_id], traces[answer_id])


def _rated(verdict: Feedback, trace: dict[str, Any]) -> RatedAnswer:
    return RatedAnswer(
        trace_id=verdict.answer_id,
        question=trace["query"],
        answer=trace["answer"],
        rating=verdict.rating,
        correction=verdict.correction,
        source=verdict.source,
        created_at=verdict.created_at,
    )
