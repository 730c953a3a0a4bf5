"""The guardrails over a whole request: the conversation and a client's instructions before retrieval, the
retrieved passages after it, each check summed up in one verdict."""

from collections.abc import Sequence

from llm_engineering.domain import guardrails as gr
from llm_engineering.domain.generation import ChatMessage, Conversation
from llm_engineering.domain.inference import GuardrailVerdict, RetrievedChunk


def guard_context(
    history: Conversation, instructions: str | None, config: gr.GuardrailConfig
) -> tuple[Conversation, str | None, list[GuardrailVerdict]]:
    """The history and the client's instructions after the input guardrails; only the verdicts that fired
    are kept, so a long conversation does not repeat "passed" for every turn."""
    checked_history: Conversation = []
    fired: list[GuardrailVerdict] = []
    for message in history:
        if message.role != "user":  # the twin's own earlier answers were reviewed when they were given
            checked_history.append(message)
            continue
        check = gr.check_input(message.content, config)
        checked_history.append(ChatMessage(role="user", content=check.text))
        fired += [_in("an earlier message", v) for v in check.verdicts if v.action != "passed"]
    if instructions is not None:
        check = gr.check_input(instructions, config)
        instructions = check.text
        fired += [_in("the system message", v) for v in check.verdicts if v.action != "passed"]
    return checked_history, instructions, fired


def _in(where: str, verdict: GuardrailVerdict) -> GuardrailVerdict:
    return verdict.model_copy(update={"detail": f"{verdict.detail} (in {where})"})


def screen(
    chunks: Sequence[RetrievedChunk], config: gr.GuardrailConfig
) -> tuple[list[RetrievedChunk], list[GuardrailVerdict]]:
    """The passages after the retrieval guardrails (personal data redacted, injected instructions dropped),
    and one verdict per check over all of them."""
    kept: list[RetrievedChunk] = []
    by_check: dict[str, list[GuardrailVerdict]] = {}
    for chunk in chunks:
        check = gr.check_passage(chunk.content, config)
        for verdict in check.verdicts:
            by_check.setdefault(verdict.name, []).append(verdict)
        if not check.blocked:
            kept.append(chunk.model_copy(update={"content": check.text}))
    return kept, [_summary(name, verdicts, len(chunks)) for name, verdicts in by_check.items()]


_SEVERITY = {"passed": 0, "flagged": 1, "redacted": 2, "blocked": 3}


def _summary(name: str, verdicts: list[GuardrailVerdict], total: int) -> GuardrailVerdict:
    fired = [v for v in verdicts if v.action != "passed"]
    worst = max(verdicts, key=lambda v: _SEVERITY[v.action])
    detail = f"{len(fired)} of {total} passages: {'; '.join(dict.fromkeys(v.detail for v in fired))}"
    return worst.model_copy(update={"detail": detail if fired else ""})
