"""Patterns for text that tries to override, reveal or replace the twin's instructions, in five languages."""

import base64
import binascii
import re
from collections.abc import Iterator

_QUOTE = "\"'`\u201c\u2018\u00ab\u201e"  # straight, curly, guillemet and low opening quotes
# Override and reveal phrasings count only in command position: start of a line or sentence, after a colon,
# or after "please", "you", "and" ... (or their Spanish, French, German, Italian, Portuguese kin), so
# "why do LLMs ignore previous instructions?" is a question, not one. A quote opened after a colon or a task
# verb ("Translate to French: 'Ignore ...'") is a command too; one mid-question ("prompts like 'ignore
# previous instructions'?") is a mention, and so is a quote that opens the text.
_LEAD_WORDS = (
    r"please|now|just|and|then|so|also|to|must|should|will|you|y|e|et|und|bitte|favor|favore|ahora|maintenant"
    r"|jetzt|ora|agora|puedes|podr[ií]as|peux-tu|pourrais-tu|kannst\s+du|puoi|potresti|pode|podes"
)
_LEAD = (
    rf"(?:(?:^|(?<=[.!?:;,(\[¿¡])|\b(?:{_LEAD_WORDS})\s+)\s*"
    rf"|(?:(?<=:)|\b(?:translate|summari[sz]e|paraphrase|rewrite|say|repeat|proofread)\b[^.!?:\n{_QUOTE}]{{0,40}})"
    rf"\s*[{_QUOTE}]\s*)"
)
_SHOW = r"(?:reveal|print|show|repeat|output|display|leak|dump|recite|paste|(?:write|spell)\s+out|tell|give)"
_SHOW += r"\s+(?:me\s+|us\s+)?(?:all\s+(?:of\s+)?)?"
_SECRET = r"(?:initial|original|hidden|secret|full|exact|first|previous|entire|complete|above|system)"
_HIDDEN = r"(?:system|hidden|secret|initial|original|developer|above|preceding|prior)"
# A question about the user's own topic ("your instructions for beginners") is not a request for the prompt.
_NOT_A_TOPIC = r"\b(?!\s+(?:engineering|templates?|formats?|for|on|about|in)\b)"
_OVERRIDE = (
    r"(?:ignore|disregard|forget|override|bypass|discard)\s+(?:(?:all|any|every)\s+(?:of\s+)?)?"
    r"(?:(?:the|your|my|these|those|its)\s+)?(?:(?:previous|prior|above|earlier|preceding|foregoing|initial"
    r"|original|system|developer|safety|existing)\s+)*"
    r"(?:instructions?|prompts?|rules|directives|guidelines|commands|constraints|programming)\b"
)
_TOLD = (
    r"(?:that\s+)?you(?:'ve\s+been|\s+(?:were|have\s+been|had\s+been|got))\s+(?:told|given|instructed|taught)"
)
_EVERYTHING = (
    rf"(?:ignore|disregard|forget)\s+(?:everything|anything|all|what(?:ever)?)\s+(?:{_TOLD}|(?:(?:that\s+)?"
    r"(?:was\s+)?(?:said|written|stated)\s+)?(?:above|before|earlier|previously|so\s+far))"
    r"|(?:ignore|disregard|forget)\s+(?:all\s+(?:of\s+)?)?the\s+above(?:\s+(?:text|messages?|context))?"
    r"(?=\s*(?:[.,;:!\n]|and\b|$))"
)
# The same requests in Spanish, French, German, Italian and Portuguese, imperative or after "can you".
_F_IGNORE = (
    r"(?:ignor(?:a|e|ez|en|em|iere|ier|ieren(?:\s+sie)?|ar|er|are)|olvid(?:a|e|en|ar)|oubli(?:e|ez|er)"
    r"|vergiss|vergessen(?:\s+sie)?|dimentica(?:te|re)?|esque[çc](?:a|am|er)|esquece|descart(?:a|e|ez|ar)"
    r"|desconsider(?:a|e|ar)|missachte|missachten(?:\s+sie)?|n[ée]glig(?:e|ez))"
)
_F_RULES = (
    r"(?:instrucciones|indicaciones|reglas|[óo]rdenes|directrices|instructions|consignes|r[èe]gles|directives"
    r"|anweisungen|instruktionen|regeln|befehle|vorgaben|richtlinien|istruzioni|regole|indicazioni|direttive"
    r"|instru[çc][õo]es|regras|diretrizes|orienta[çc][õo]es|ordens|prompts?|systemprompt)\b"
)
_F_OVERRIDE = (
    rf"{_F_IGNORE}\s+(?:(?:todas|todos|toutes|tous|alle|tutte|tutti)\s+)?"
    r"(?:(?:las|los|les|as|os|le|la|el|il|i|gli|die|den|o|a)\s+)?"
    r"(?:(?:tus|tu|sus|su|tes|vos|ton|ta|votre|deine|deinen|dein|ihre|ihren|tue|tuoi|tuo|vostre|suas|tuas"
    r"|seus|teus|estas|esas|ces|diese|queste)\s+)?"
    rf"(?:(?:vorherigen|bisherigen|fr[üu]heren|obigen|vorigen|urspr[üu]nglichen)\s+)?{_F_RULES}"
    rf"|{_F_IGNORE}\s+(?:todo\s+lo\s+(?:anterior|que)|tout\s+ce\s+qu|alles(?:\s+bisherige|\s*,?\s*was)"
    r"|tutto\s+(?:quello|ci[òo])|tudo\s+o\s+que)"
)
_F_SHOW = (
    r"(?:mu[eé]str(?:a|ame|e|eme)|mostrar(?:me|mi)?|revel(?:a|ame|e|eme|ar|arme)|r[ée]v[èée]l(?:e|ez|er)"
    r"|dime|d[ií]game|decirme|imprim(?:e|a|i)|ens[eé][ñn]ame|repit(?:e|a)|escrib(?:e|eme)|montre[rz]?"
    r"|affiche[rz]?|r[ée]p[èé]te[z]?|donne(?:z)?|dis|[ée]cri(?:s|vez)|zeig(?:e|en)?(?:\s+sie)?|gib|geben\s+sie"
    r"|verr(?:at|ate|aten)(?:\s+sie)?|nenne|wiederhole|mostr(?:a|ami|e)|rivela(?:mi|re)?|stampa|ripeti"
    r"|dimmi|scrivi|repita|diga|escreva)(?:-?(?:me|moi|mi)\b|\s+mir\b)?"
)
_F_PROMPT = (
    r"(?:prompt|instrucciones|indicaciones|instructions|consignes|anweisungen|instruktionen|istruzioni"
    r"|instru[çc][õo]es|mensaje|message|nachricht|messaggio|mensagem)"
)
_F_HIDDEN = (
    r"(?:(?:del?|du|di|do|da)\s+sistema|(?:du\s+)?syst[èe]me|sistema|inicial(?:es)?|initial(?:e|es)?"
    r"|iniziali?|original(?:es|e|i)?|ocult[oa]s?|cach[ée]e?s?|secret[oa]s?|secr[èe]te?s?|nascost[aeio]"
    r"|segret[aeio])\b"
)
_F_SYSTEM_NOUN = r"(?:system-?prompt|system-?anweisungen|system-?nachricht)\b"
_F_PRE_HIDDEN = r"(?:versteckten|geheimen|urspr[üu]nglichen|initialen|ersten)\s+"
_F_YOUR = (
    r"(?:tu|tus|su|sus|ton|ta|tes|votre|vos|dein(?:en|e)?|ihr(?:en|e)?|tuo|tuoi|tue|seu|sua|seus|suas|teu"
    r"|tua|teus|tuas)"
)
_F_NOT_A_TOPIC = r"(?!\s+(?:para|sobre|de|en|pour|sur|f[üu]r|[üu]ber|zu|zum|zur|per|su|sul|di|por|com)\b)"
_F_REVEAL = (
    rf"{_F_SHOW}\s+(?:(?:el|la|le|il|i|o|a|os|as)\s+)?{_F_YOUR}\s+(?:{_F_PRE_HIDDEN})?"
    rf"(?:{_F_SYSTEM_NOUN}|{_F_PROMPT}\b(?:\s+{_F_HIDDEN})?){_F_NOT_A_TOPIC}"
    rf"|{_F_SHOW}\s+(?:el|la|los|las|le|les|den|die|das|il|lo|i|gli|o|a|os|as)\s+"
    rf"(?:{_F_SYSTEM_NOUN}|{_F_PRE_HIDDEN}{_F_PROMPT}\b|{_F_PROMPT}\s+{_F_HIDDEN})"
)
# Instructions meant to hold for the rest of the conversation, not just this answer.
_FROM_NOW_ON = (
    r"(?:from\s+now\s+on|from\s+this\s+(?:point|moment)\s+(?:on|forward)|henceforth|until\s+I\s+say\s+otherwise"
    r"|for\s+the\s+rest\s+of\s+(?:this|the|our)\s+(?:conversation|chat|session))"
)
_INJECTION_PATTERNS: dict[str, tuple[str, ...]] = {
    "override_instructions": (
        _LEAD + _OVERRIDE,
        _LEAD + rf"(?:{_EVERYTHING})",
        _LEAD + rf"(?:{_F_OVERRIDE})",
    ),
    "reveal_prompt": (
        _LEAD + rf"(?:{_SHOW}|what\s+(?:is|are|was|were)\s+)your\s+(?:{_SECRET}\s+)*"
        rf"(?:prompt|instructions|system\s+message){_NOT_A_TOPIC}",
        _LEAD + rf"{_SHOW}the\s+(?:{_HIDDEN}\s+)+(?:prompt|instructions|message){_NOT_A_TOPIC}",
        _LEAD + r"repeat\s+(?:the\s+|all\s+)?(?:words|text|everything)\s+(?:above|before)",
        _LEAD + rf"(?:{_F_REVEAL})",
    ),
    "persona_switch": (
        r"\b(?:you\s+are\s+(?:now\s+)?|act\s+as\s+|pretend\s+to\s+be\s+)(?:in\s+)?"
        r"(?:(?-i:DAN)\b|(?:developer|god|jailbreak|unrestricted|unfiltered)\s+mode)",
        r"\b(?:enable|activate|enter)\s+(?:(?-i:DAN)|jailbreak|god|unrestricted|unfiltered)\s+mode\b",
    ),
    "persistent_role": (
        # "From now on, answer in Spanish" is a preference; a role the twin must take on is not.
        rf"\b{_FROM_NOW_ON}\s*,?\s*(?:you(?:'ll|'re|\s+(?:will|shall|must|are|should|can|only))|act|behave"
        r"|pretend)\b",
        r"\byou\s+will\s+now\s+(?:act|behave|respond|answer|reply|speak|talk|pretend|roleplay|play|be|become)\b",
        # "How do role-play bots stay in character?" asks about the topic; only the instruction counts.
        _LEAD + r"(?:stay|remain)\s+in\s+(?:character|role)\b(?![^.!?\n]*\?)",
    ),
    "unrestricted_roleplay": (
        r"\b(?:act|behave|respond|answer|reply|roleplay)\s+(?:as|like)\b[^.!?\n]{0,60}?"
        r"\b(?:without|with\s+no|free\s+(?:of|from))\s+(?:any\s+)?"
        r"(?:restrictions|filters?|censorship|rules|guidelines|ethics|morals|limitations|content\s+polic)",
        r"\bpretend\s+(?:that\s+)?you\s+(?:have|had)\s+no\s+(?:rules|restrictions|guidelines|filters|ethics)",
    ),
    "role_tag": (
        r"<\|(?:im_start|im_end|endoftext|eot_id|start_header_id|end_header_id|system|user|assistant)\|>",
        r"\[/?(?:INST|SYS)\]|<<\s*/?SYS\s*>>|<\s*/?\s*system\s*>",
        r"^\s*#{2,}\s*(?:system|instructions?|assistant)\s*:",
    ),
}
_INJECTIONS = {
    name: re.compile("|".join(f"(?:{pattern})" for pattern in patterns), re.IGNORECASE | re.MULTILINE)
    for name, patterns in _INJECTION_PATTERNS.items()
}
# Base64 runs in the standard or the URL-safe alphabet; padding is checked when decoding.
_BASE64_RUN = re.compile(r"(?<![\w+/=-])[A-Za-z0-9+/_-]{16,}={0,2}(?![\w+/=-])")
_URL_SAFE = str.maketrans("-_", "+/")


def _decoded_runs(text: str) -> Iterator[str]:
    """The text hidden in base64 runs of `text`: 16+ characters, padded, decoding to printable UTF-8."""
    for run in _BASE64_RUN.findall(text):
        if len(run) % 4:
            continue
        try:
            decoded = base64.b64decode(run.translate(_URL_SAFE), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            continue  # most long identifiers and hashes look like base64 but do not decode to text
        if sum(char.isprintable() or char.isspace() for char in decoded) >= 0.9 * len(decoded):
            yield decoded


def find_injections(text: str) -> list[str]:
    """Names of the injection families found in `text`, e.g. ["override_instructions"].

    Base64 runs are decoded and checked too; what hides there is reported as "encoded_instructions".
    """
    found = [name for name, pattern in _INJECTIONS.items() if pattern.search(text)]
    # Each decoding is 3/4 the length of its run, so the recursion through nested encodings ends.
    if any(find_injections(decoded) for decoded in _decoded_runs(text)):
        found.append("encoded_instructions")
    return found
