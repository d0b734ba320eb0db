"""Step-by-step reasoning over video, with any backend: ``ground`` (when does X happen),
``captions`` (dense, time-stamped events), ``vot`` (Video-of-Thought) and ``agent``
(VideoAgent's confidence-driven retrieval)."""
