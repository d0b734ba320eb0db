"""``ServeConfig``: everything one ``vidllm serve`` process is configured with, checked once.

The limits are the server's own ceilings, whatever a request asks for: a client may ask for
fewer frames, a lower rate or smaller frames, never more (vLLM's advisory GHSA about unbounded
per-request fps and frame counts is the reason they exist at all).

>>> ServeConfig(model="timeline").max_fps
8.0
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

MB = 1024 * 1024


class ServeConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    model: str = Field("timeline", description="The model URI served.")
    name: str | None = Field(None, description="The name clients use for it (default: the URI).")
    model_options: dict = Field(default_factory=dict, description="The backend's options (-o KEY VALUE).")
    sampling: dict = Field(default_factory=dict, description="SamplingSpec fields for videos whose request names none.")
    api_key: str | None = Field(None, description="Bearer key every /v1 request must carry (like vLLM's --api-key).")

    # where media may come from
    allowed_local_media_path: Path | None = Field(
        None, description="A folder requests may name files in (symlinks resolved; nothing outside it).")
    allow_remote_media: bool = Field(
        False, description="Fetch http(s) media URLs (never from loopback, link-local or private addresses).")

    # ceilings on what one request may ask for
    max_frames: int = Field(256, ge=1, le=100_000, description="Most frames sampled from one video.")
    max_fps: float = Field(8.0, gt=0, le=1000, description="Highest sampling rate a request may ask for.")
    max_pixels: int = Field(1920 * 1080, ge=64, description="Most pixels per sampled frame (aspect kept).")
    max_source_pixels: int = Field(4096 * 4096, ge=64, description="Largest video or image (width x height) accepted.")
    max_body_bytes: int = Field(200 * MB, ge=1024, description="Largest request body (media sent inline included).")
    max_upload_bytes: int = Field(500 * MB, ge=1024, description="Largest upload or downloaded media file.")
    max_uploads_total_bytes: int = Field(5 * 1024 * MB, ge=1024,
                                         description="Uploads kept on disk; the oldest go first beyond it.")
    max_messages: int = Field(256, ge=1, description="Most messages in one conversation.")
    max_parts: int = Field(512, ge=1, description="Most content parts in one conversation.")
    max_media: int = Field(16, ge=1, description="Most images + videos in one conversation.")

    # time and queueing
    request_timeout: float = Field(600.0, gt=0, description="Seconds one completion may take (then HTTP 504).")
    body_timeout: float = Field(30.0, gt=0, description="Seconds a client may pause while sending a body (then 408).")
    idle_timeout: float = Field(15.0, gt=0, description="Seconds an idle connection is kept open.")
    max_queue: int = Field(64, ge=0, description="Requests waiting for the model beyond those running (then 429).")
    max_connections: int = Field(1024, ge=1, description="Open connections and tasks (then 503).")
    cors_origins: tuple[str, ...] = Field(("*",), description="Origins allowed to call the API from a browser.")

    # live-stream sessions (/v1/streams): sources obey the media policy above (local files only in
    # the allowed folder, network streams only with allow_remote_media and to public addresses)
    max_streams: int = Field(4, ge=0, description="Stream sessions open at once (then 429); each perceives "
                                                  "its own source in its own thread.")
    max_stream_questions: int = Field(64, ge=1, description="Open watches and scheduled asks per stream session.")
    stream_keep: float = Field(300.0, gt=0, description="Seconds a session whose source ended is kept for late "
                                                        "readers and backward questions, then freed.")

    @field_validator("allowed_local_media_path")
    @classmethod
    def _folder(cls, value: Path | None) -> Path | None:
        if value is None:
            return None
        resolved = Path(value).expanduser().resolve()
        if not resolved.is_dir():
            raise ValueError(f"--allowed-local-media-path {value}: not a folder")
        return resolved

    @model_validator(mode="after")
    def _defaults_within_ceilings(self) -> "ServeConfig":
        fps, frames = self.sampling.get("fps"), self.sampling.get("nframes")
        if fps is not None and fps > self.max_fps:
            raise ValueError(f"the default fps {fps:g} is above max_fps {self.max_fps:g}")
        if frames is not None and frames > self.max_frames:
            raise ValueError(f"the default nframes {frames} is above max_frames {self.max_frames}")
        return self

    @property
    def served_name(self) -> str:
        return self.name or self.model
