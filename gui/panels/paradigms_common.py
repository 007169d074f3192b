"""What the Paradigms tab's pages share: each rule's colour and the note of an idle tab."""

from __future__ import annotations

from engine.paradigms import RULES

COLOR = {rule: i for i, rule in enumerate(RULES)}
IDLE_NOTE = "Press Train side by side"
