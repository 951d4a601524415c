"""Named benchmark prompts, and how a command line chooses its prompt."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from edgeapp.errors import UsageError

# Seed 000 ("From Cloud to Edge", appendix A): the prompt both Llama-2 models answered.
GRANDVILLE = (
    "Context: In a small town named Grandville, a well-known millionaire, Mr. Smith, has been "
    "mysteriously murdered at his mansion. No one has been able to solve the case yet. Detective "
    "Anderson, an old friend of Mr. Smith, has taken it upon himself to solve this case. Detective "
    "Anderson was just informed that Mr. Smith had received a strange letter the day before his "
    "death. Prompt: You are now the character of Detective Anderson. Here's what you need to do in "
    "this exercise: 1. Start by expressing your feelings about Mr. Smith's death to the local "
    "sheriff, considering your old friendship with him. 2. Then, ask the sheriff about the details "
    "of this strange letter. 3. Finally, suggest a theory about the possible connection between "
    "this letter and Mr. Smith's death, and propose your next steps in the investigation."
)

SHORT = "Explain in three sentences why quantized language models run faster on small computers."

PRESETS: dict[str, str] = {"grandville": GRANDVILLE, "short": SHORT}
DEFAULT_PRESET = "grandville"


@dataclass(frozen=True)
class BenchPrompt:
    """The prompt a benchmark sends, and the name it is reported under."""

    name: str  # a preset name, "text" or the file name
    text: str


def choose_prompt(text: str | None = None, file: str | None = None, preset: str | None = None) -> BenchPrompt:
    """Return the prompt from --prompt, --prompt-file or --preset (default: the Grandville preset)."""
    given = [value for value in (text, file, preset) if value is not None]
    if len(given) > 1:
        raise UsageError("give only one of --prompt, --prompt-file and --preset")
    if text is not None:
        if not text.strip():
            raise UsageError("--prompt is empty")
        return BenchPrompt("text", text)
    if file is not None:
        path = Path(file).expanduser()
        try:
            content = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise UsageError(f"cannot read the prompt file {path}: {error}") from None
        if not content.strip():
            raise UsageError(f"the prompt file {path} is empty")
        return BenchPrompt(path.name, content)
    name = (preset or DEFAULT_PRESET).lower()
    if name not in PRESETS:
        raise UsageError(f"unknown prompt preset '{preset}'; presets: {', '.join(PRESETS)}")
    return BenchPrompt(name, PRESETS[name])
