"""The ffmpeg worker end to end: clips generated with lavfi in, every output probed with ffprobe."""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from mediaflow.catalog import kinds_for
from mediaflow.compiler import compile_workflow
from mediaflow.embedded.app import missing_runtimes
from mediaflow.errors import (
    EmptyMedia,
    InvalidDefinition,
    MediaDecodeError,
    MediaTooLarge,
    ToolchainError,
    UnsupportedMedia,
)
from mediaflow.execution.contract import ChainResult, TaskEnvironment
from mediaflow.execution.tasks import execute_task
from mediaflow.media import MediaRef
from mediaflow.workers import ffmpeg_tools, video, video_state
from mediaflow.workers.ffmpeg_tools import probe, read_info

from tests.e2e.video_support import (
    FFMPEG,
    ConnectionRecorder,
    FolderBlobs,
    MediaFactory,
    count_frames,
    ffprobe,
    make_env,
    payload,
    upload_file,
)

pytestmark = [pytest.mark.e2e, pytest.mark.skipif(FFMPEG is None, reason="ffmpeg is not installed")]

ROOT = Path(__file__).resolve().parents[2]
Ops = tuple[str, str, dict[str, Any]]


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> MediaFactory:
    return MediaFactory(tmp_path_factory.mktemp("video-media"))


@pytest.fixture
def env(tmp_path: Path) -> TaskEnvironment:
    return make_env(tmp_path)


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """Every ffmpeg/ffprobe command line the worker starts."""
    seen: list[list[str]] = []
    original = ffmpeg_tools.start_tool

    def recording(argv: list[str], **kwargs: Any) -> Any:
        seen.append(list(argv))
        return original(argv, **kwargs)

    monkeypatch.setattr(ffmpeg_tools, "start_tool", recording)
    return seen


def _run(env: TaskEnvironment, ref: MediaRef, *ops: Ops) -> ChainResult:
    return video.run_chain(payload(ref, *ops), env)


def _out(env: TaskEnvironment, ref: MediaRef | dict[str, Any], tmp: Path) -> Path:
    key = ref.key if isinstance(ref, MediaRef) else ref["key"]
    assert isinstance(env.blobs, FolderBlobs)
    target = tmp / Path(key).name
    target.write_bytes(env.blobs.read(key))
    return target


def _streams(info: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [s for s in info["streams"] if s["codec_type"] == kind]


def _ffmpeg_runs(calls: list[list[str]]) -> list[list[str]]:
    return [argv for argv in calls if Path(argv[0]).name.startswith("ffmpeg")]


def _loudness(path: Path) -> float:
    assert FFMPEG is not None
    result = subprocess.run([FFMPEG, "-hide_banner", "-nostats", "-i", str(path), "-af", "ebur128", "-f", "null", "-"],
                            capture_output=True, timeout=30, check=True)
    values = re.findall(r"I:\s+(-?[\d.]+) LUFS", result.stderr.decode())
    return float(values[-1])


# --------------------------------------------------------------------------------------------------
# probe and the budget

def test_probe_describes_streams(media: MediaFactory) -> None:
    report = probe(media.clip())
    assert report["format"] == "mp4" and report["mediaType"] == "video"
    assert report["width"] == 320 and report["height"] == 240 and report["rotation"] == 0
    assert report["videoCodec"] == "h264" and report["audioCodec"] == "aac"
    assert report["durationSeconds"] == pytest.approx(4.0, abs=0.1)
    assert report["bitRate"] > 0 and report["fps"] == 25
    assert [s["type"] for s in report["streams"]] == ["video", "audio"]


def test_probe_rotated_reports_display_size(media: MediaFactory) -> None:
    report = probe(media.rotated())
    assert report["rotation"] in (90, 270)
    assert (report["width"], report["height"]) == (240, 320)


def test_probe_refuses_images_by_name(tmp_path: Path) -> None:
    png = tmp_path / "x.mp4"
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 64)
    with pytest.raises(UnsupportedMedia, match="image"):
        probe(png)


def test_ten_hour_header_is_refused_before_any_work(env: TaskEnvironment, media: MediaFactory,
                                                     calls: list[list[str]]) -> None:
    ref = upload_file(env, media.ten_hours())
    started = time.monotonic()
    with pytest.raises(MediaTooLarge, match="over the limit") as caught:
        _run(env, ref, ("web", "transcode", {"preset": "240p"}))
    assert time.monotonic() - started < 5
    assert caught.value.node_id == "web"
    assert _ffmpeg_runs(calls) == []  # only ffprobe ran


def test_frame_size_budget(tmp_path: Path, media: MediaFactory) -> None:
    env = make_env(tmp_path, max_video_pixels=320 * 200)
    ref = upload_file(env, media.clip(2.0))
    with pytest.raises(MediaTooLarge, match="pixels"):
        _run(env, ref, ("p", "poster_frame", {}))


# --------------------------------------------------------------------------------------------------
# transcode / convert

def test_transcode_mp4_keeps_aspect_even_sides_and_faststart(env: TaskEnvironment, media: MediaFactory,
                                                            tmp_path: Path) -> None:
    ref = upload_file(env, media.clip(2.0, "640x360"), "holiday.mov", metadata={"album": "summer"})
    result = _run(env, ref, ("web", "transcode", {"outputFormat": "mp4", "preset": "240p", "fps": 15}))
    out = result.media
    assert out.key == "acme/runs/run-1/web/holiday.mp4"
    assert (out.filename, out.content_type, out.media_type) == ("holiday.mp4", "video/mp4", "video")
    assert (out.width, out.height) == (426, 240)
    assert out.duration_ms == pytest.approx(2000, abs=100)
    assert out.metadata == {"album": "summer"} and out.source_key == ref.key
    path = _out(env, out, tmp_path)
    assert out.size == path.stat().st_size
    data = path.read_bytes()
    assert data.index(b"moov") < data.index(b"mdat"), "+faststart puts the index first"
    info = ffprobe(path)
    (v,), (a,) = _streams(info, "video"), _streams(info, "audio")
    assert (v["codec_name"], v["width"], v["height"], v["pix_fmt"]) == ("h264", 426, 240, "yuv420p")
    assert v["avg_frame_rate"] == "15/1" and a["codec_name"] == "aac"
    assert "tags" not in info["format"] or "encoder" not in info["format"].get("tags", {})


def test_transcode_output_is_described_without_an_ffprobe_start(env: TaskEnvironment, media: MediaFactory,
                                                                tmp_path: Path, calls: list[list[str]]) -> None:
    ref = upload_file(env, media.clip(2.0, "640x360"))
    result = _run(env, ref, ("web", "transcode", {"outputFormat": "mp4", "preset": "240p"}))
    probes = [argv for argv in calls if Path(argv[0]).name.startswith("ffprobe")]
    assert len(probes) == 1 and Path(probes[0][-1]).name == "source", "only the input is probed"
    reported = read_info(_out(env, result.media, tmp_path), "mov", settings=env.settings)
    assert (result.media.width, result.media.height) == reported.display_size == (426, 240)
    assert result.media.duration_ms == reported.duration_ms  # the movie header's duration, as ffprobe reads it
    assert result.outcomes[0].output["durationMs"] == reported.duration_ms


def test_the_transcoded_file_is_stored_without_a_second_write(media: MediaFactory, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """In the embedded store the file ffmpeg wrote becomes the stored object (a rename, not a copy of what can
    be gigabytes): its inode is the one ffmpeg created."""
    from dataclasses import replace

    from mediaflow.adapters.embedded.blobstore import FolderBlobStore

    env = replace(make_env(tmp_path), blobs=FolderBlobStore(tmp_path / "store", bucket="local"))
    ref = upload_file(env, media.clip(2.0, "640x360"))
    produced: list[int] = []
    real_produce = video_state.VideoState.produce

    def produce_and_note(self: video_state.VideoState, path: Path, *args: Any, **kwargs: Any) -> Any:
        produced.append(path.stat().st_ino)
        return real_produce(self, path, *args, **kwargs)

    monkeypatch.setattr(video_state.VideoState, "produce", produce_and_note)
    result = _run(env, ref, ("web", "transcode", {"outputFormat": "mp4", "preset": "240p"}))
    stored = env.blobs.local_path(result.media.key)
    assert stored is not None and stored.stat().st_ino == produced[-1]
    assert result.media.size == stored.stat().st_size
    assert _streams(ffprobe(stored), "video")[0]["height"] == 240


def test_an_op_after_a_transcode_gets_its_output_probed(env: TaskEnvironment, media: MediaFactory,
                                                        calls: list[list[str]]) -> None:
    ref = upload_file(env, media.clip(2.0, "640x360"))
    result = _run(env, ref, ("web", "transcode", {"outputFormat": "mp4", "preset": "240p"}),
                  ("still", "poster_frame", {"atSeconds": 1}))
    probes = [argv for argv in calls if Path(argv[0]).name.startswith("ffprobe")]
    assert len(probes) == 2, "the poster frame reads the transcoded file's probe"
    assert (result.media.media_type, result.media.width, result.media.height) == ("image", 426, 240)


def test_a_probe_made_ahead_answers_the_same_file_only(media: MediaFactory, tmp_path: Path,
                                                      calls: list[list[str]],
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ffmpeg_tools, "_PROBED_AHEAD", {})
    monkeypatch.delenv("MEDIAFLOW_FFPROBE_PATH", raising=False)
    settings = make_env(tmp_path).settings
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(media.clip(2.0).read_bytes())
    not_video = tmp_path / "notes.mp4"
    not_video.write_bytes(b"plain text, not a video")
    wait = ffmpeg_tools.probe_ahead([clip, not_video])
    assert len(calls) == 1, "the text file is left to its Task (it is sniffed, never probed)"
    assert not ffmpeg_tools._PROBED_AHEAD, "started, not waited for: the caller goes on meanwhile"
    wait()
    linked = tmp_path / "linked.mp4"
    os.link(clip, linked)  # the stored input is a hard link of the user's file: the same file
    ahead = read_info(linked, "mov", settings=settings)
    assert len(calls) == 1 and ahead == read_info(clip, "mov", settings=settings) and len(calls) == 1
    assert ahead.duration_ms == pytest.approx(2000, abs=100)
    other_binary = settings.model_copy(update={"ffprobe_path": f"{settings.ffprobe_path} "})
    with pytest.raises(ToolchainError):  # not the binary the probe ahead ran: the Task runs its own
        read_info(clip, "mov", settings=other_binary)
    assert len(calls) == 2
    status = clip.stat()
    os.utime(clip, ns=(status.st_atime_ns, status.st_mtime_ns + 1))  # touched: another version of the file
    read_info(clip, "mov", settings=settings)
    assert len(calls) == 3
    with pytest.raises(MediaDecodeError):
        read_info(not_video, "mov", settings=settings)  # its Task reports it, by name


def test_a_probe_ahead_runs_the_binary_the_settings_will_name(media: MediaFactory, tmp_path: Path,
                                                              calls: list[list[str]],
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """The probe starts before the settings load, from the raw variable; the validated settings then name the
    same binary, so the Task takes the probe's answer."""
    monkeypatch.setattr(ffmpeg_tools, "_PROBED_AHEAD", {})
    wrapper = tmp_path / "probe-wrapper"
    wrapper.write_text('#!/bin/sh\nexec ffprobe "$@"\n')
    wrapper.chmod(0o755)
    monkeypatch.setenv("mediaflow_ffprobe_path", str(wrapper))  # any case, as the settings read it
    clip = media.clip(1.0)
    ffmpeg_tools.probe_ahead([clip])()
    assert [argv[0] for argv in calls] == [str(wrapper)]
    settings = make_env(tmp_path).settings
    assert settings.ffprobe_path == str(wrapper)
    assert read_info(clip, "mov", settings=settings).duration_ms == pytest.approx(1000, abs=100)
    assert len(calls) == 1


def test_mp4_duration_matches_ffprobe_and_refuses_what_is_not_a_whole_mp4(media: MediaFactory,
                                                                          tmp_path: Path) -> None:
    clip = media.clip(2.0, "640x360")
    probed = read_info(clip, "mov", settings=make_env(tmp_path).settings)
    assert ffmpeg_tools.mp4_duration_ms(clip) == probed.duration_ms
    moov_last = tmp_path / "moov-last.mp4"  # the index after the media data, as without +faststart
    subprocess.run([FFMPEG, "-v", "error", "-y", "-i", str(clip), "-c", "copy", str(moov_last)], check=True,
                   timeout=60)
    data = moov_last.read_bytes()
    assert data.index(b"moov") > data.index(b"mdat")
    assert ffmpeg_tools.mp4_duration_ms(moov_last) == ffmpeg_tools.mp4_duration_ms(clip)
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: data.index(b"moov") + 64])  # the index cut short
    webm = tmp_path / "x.webm"
    webm.write_bytes(b"\x1a\x45\xdf\xa3" + bytes(60))
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    assert [ffmpeg_tools.mp4_duration_ms(p) for p in (cut, webm, empty, tmp_path / "missing.mp4")] == [None] * 4


def test_trim_and_transcode_fuse_into_one_ffmpeg_run(env: TaskEnvironment, media: MediaFactory, tmp_path: Path,
                                                     calls: list[list[str]]) -> None:
    ref = upload_file(env, media.clip())
    result = _run(env, ref, ("cut", "trim", {"startSeconds": 1, "durationSeconds": 2}),
                  ("web", "transcode", {"outputFormat": "webm", "preset": "240p"}))
    runs = _ffmpeg_runs(calls)
    assert len(runs) == 1
    argv = runs[0]
    assert argv.index("-ss") < argv.index("-i"), "input seek"
    assert argv[argv.index("-ss") + 1] == "1" and argv[argv.index("-t") + 1] == "2"
    assert ["protocol_whitelist" in a for a in argv].count(True) == 1
    assert argv[argv.index("-protocol_whitelist") + 1] == "file,pipe" and argv[argv.index("-f") + 1] == "mov"
    assert result.outcomes[0].output == {"startSeconds": 1.0, "durationSeconds": 2.0, "fused": True}
    info = ffprobe(_out(env, result.media, tmp_path))
    assert [s["codec_name"] for s in info["streams"]] == ["vp9", "opus"]
    assert float(info["format"]["duration"]) == pytest.approx(2.0, abs=0.1)
    assert result.media.content_type == "video/webm" and result.media.filename.endswith(".webm")


def test_hls_playlist_with_segments_in_related(env: TaskEnvironment, media: MediaFactory, tmp_path: Path) -> None:
    ref = upload_file(env, media.clip(), "clip.mp4")
    result = _run(env, ref, ("hls", "transcode", {"outputFormat": "hls", "hlsSegmentSeconds": 1}))
    out = result.media
    assert (out.filename, out.content_type) == ("clip.m3u8", "application/vnd.apple.mpegurl")
    playlist = _out(env, out, tmp_path).read_text()
    assert "#EXT-X-PLAYLIST-TYPE:VOD" in playlist and "#EXT-X-ENDLIST" in playlist
    assert len(out.related) == 4
    for segment in out.related:
        assert segment["contentType"] == "video/mp2t"
        assert segment["key"] == f"acme/runs/run-1/hls/{segment['filename']}"
        assert segment["filename"] in playlist
        info = ffprobe(_out(env, segment, tmp_path))
        assert [s["codec_name"] for s in info["streams"]] == ["h264", "aac"]
    assert "http" not in playlist and "/" not in playlist.replace("#EXT", "")


def test_av1_when_an_encoder_exists(env: TaskEnvironment, media: MediaFactory, tmp_path: Path) -> None:
    ref = upload_file(env, media.clip(1.0))
    if not {"libaom-av1", "libsvtav1"} & ffmpeg_tools.encoders(env.settings.ffmpeg_path):
        with pytest.raises(ToolchainError, match="AV1"):
            _run(env, ref, ("av1", "transcode", {"outputFormat": "mp4", "videoCodec": "av1"}))
        return
    result = _run(env, ref, ("av1", "transcode", {"outputFormat": "mp4", "videoCodec": "av1"}))
    assert _streams(ffprobe(_out(env, result.media, tmp_path)), "video")[0]["codec_name"] == "av1"


def test_missing_av1_encoder_is_a_clear_toolchain_error(env: TaskEnvironment, media: MediaFactory,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ffmpeg_tools, "encoders", lambda path: frozenset({"libx264"}))
    ref = upload_file(env, media.clip(1.0))
    with pytest.raises(ToolchainError, match="no AV1 encoder"):
        _run(env, ref, ("av1", "transcode", {"outputFormat": "webm", "videoCodec": "av1"}))


def test_codec_that_the_container_cannot_hold(env: TaskEnvironment, media: MediaFactory) -> None:
    ref = upload_file(env, media.clip(1.0))
    with pytest.raises(InvalidDefinition) as caught:
        _run(env, ref, ("w", "transcode", {"outputFormat": "webm", "videoCodec": "h264"}))
    assert caught.value.field == "config.videoCodec"


@pytest.mark.parametrize(("fmt", "content_type", "codecs"), [
    ("mov", "video/quicktime", ["h264", "aac"]),
    ("mkv", "video/x-matroska", ["h264", "aac"]),
])
def test_convert_to_video_containers(env: TaskEnvironment, media: MediaFactory, tmp_path: Path, fmt: str,
                                     content_type: str, codecs: list[str]) -> None:
    ref = upload_file(env, media.clip(1.0))
    result = _run(env, ref, ("c", "convert", {"outputFormat": fmt, "compressionLevel": 60}))
    assert result.media.content_type == content_type and result.media.filename == f"clip-1-320x240-25.{fmt}"
    assert [s["codec_name"] for s in ffprobe(_out(env, result.media, tmp_path))["streams"]] == codecs


def test_same_input_gives_identical_bytes(tmp_path: Path, media: MediaFactory) -> None:
    digests = []
    for attempt in range(2):
        env = make_env(tmp_path / str(attempt))
        ref = upload_file(env, media.clip(2.0))
        result = _run(env, ref, ("cut", "trim", {"startSeconds": 0.5}), ("web", "transcode", {"outputFormat": "mkv"}))
        assert isinstance(env.blobs, FolderBlobs)
        digests.append(hashlib.sha256(env.blobs.read(result.media.key)).hexdigest())
    assert digests[0] == digests[1]


# --------------------------------------------------------------------------------------------------
# Odd sources: rotation, no audio, two audio tracks, variable frame rate

def test_rotated_phone_video_comes_out_upright(env: TaskEnvironment, media: MediaFactory, tmp_path: Path) -> None:
    ref = upload_file(env, media.rotated())
    result = _run(env, ref, ("web", "transcode", {"preset": "240p"}))
    assert (result.media.width, result.media.height) == (240, 320)
    (v,) = _streams(ffprobe(_out(env, result.media, tmp_path)), "video")
    assert (v["width"], v["height"]) == (240, 320)
    assert not v.get("side_data_list") and "rotate" not in v.get("tags", {})
    poster = _run(env, ref, ("p", "poster_frame", {"atSeconds": 1}))
    assert (poster.media.width, poster.media.height) == (240, 320)
    (frame,) = _streams(ffprobe(_out(env, poster.media, tmp_path)), "video")
    assert (frame["width"], frame["height"]) == (240, 320)


def test_video_without_audio(env: TaskEnvironment, media: MediaFactory, tmp_path: Path) -> None:
    ref = upload_file(env, media.silent())
    result = _run(env, ref, ("web", "transcode", {"outputFormat": "webm"}))
    info = ffprobe(_out(env, result.media, tmp_path))
    assert [s["codec_name"] for s in info["streams"]] == ["vp9"]
    assert result.outcomes[0].output is not None and result.outcomes[0].output["audioCodec"] == "none"
    with pytest.raises(UnsupportedMedia, match="no audio stream"):
        _run(env, ref, ("a", "extract_audio", {}))


def test_two_audio_tracks_pick_by_index(env: TaskEnvironment, media: MediaFactory, tmp_path: Path) -> None:
    ref = upload_file(env, media.two_tracks())
    second = _run(env, ref, ("a", "extract_audio", {"outputFormat": "mp3", "track": 1}))
    (a,) = _streams(ffprobe(_out(env, second.media, tmp_path)), "audio")
    assert (a["codec_name"], a["channels"], int(a["sample_rate"])) == ("mp3", 1, 44100)
    assert second.outcomes[0].output is not None and second.outcomes[0].output["copied"] is True
    first = _run(env, ref, ("a", "extract_audio", {"outputFormat": "m4a"}))
    assert first.media.content_type == "audio/mp4" and first.media.filename == "two-tracks.m4a"
    (a,) = _streams(ffprobe(_out(env, first.media, tmp_path)), "audio")
    assert (a["codec_name"], a["channels"]) == ("aac", 2)
    web = _run(env, ref, ("web", "transcode", {}))
    assert [s["codec_type"] for s in ffprobe(_out(env, web.media, tmp_path))["streams"]] == ["video", "audio"]
    every = _run(env, ref, ("web", "transcode", {"audioTracks": "all"}))
    streams = ffprobe(_out(env, every.media, tmp_path))["streams"]
    assert [(s["codec_type"], s.get("codec_name"), s.get("channels")) for s in streams] == [
        ("video", "h264", None), ("audio", "aac", 2), ("audio", "aac", 1)]
    assert every.outcomes[0].output is not None and every.outcomes[0].output["audioTracks"] == 2
    copied = _run(env, ref, ("web", "transcode", {"outputFormat": "mkv", "audioTracks": "all", "audioCodec": "copy"}))
    assert [s.get("codec_name") for s in ffprobe(_out(env, copied.media, tmp_path))["streams"]] == [
        "h264", "aac", "mp3"]
    with pytest.raises(InvalidDefinition, match="one audio track") as refused:
        _run(env, ref, ("web", "transcode", {"outputFormat": "hls", "audioTracks": "all"}))
    assert refused.value.field == "config.audioTracks"
    with pytest.raises(UnsupportedMedia, match="track 5"):
        _run(env, ref, ("a", "extract_audio", {"track": 5}))


def test_variable_frame_rate(env: TaskEnvironment, media: MediaFactory, tmp_path: Path) -> None:
    ref = upload_file(env, media.vfr())
    kept = _run(env, ref, ("web", "transcode", {}))
    assert kept.media.duration_ms == pytest.approx(2000, abs=150)
    constant = _run(env, ref, ("web", "transcode", {"fps": 10}))
    path = _out(env, constant.media, tmp_path)
    assert count_frames(path) == pytest.approx(20, abs=1)
    gif = _run(env, ref, ("g", "gif", {"fps": 5, "width": 160, "durationSeconds": 2}))
    assert count_frames(_out(env, gif.media, tmp_path)) == 10


# --------------------------------------------------------------------------------------------------
# audio

@pytest.mark.parametrize(("fmt", "codec", "content_type", "ext"), [
    ("mp3", "mp3", "audio/mpeg", "mp3"),
    ("m4a", "aac", "audio/mp4", "m4a"),
    ("aac", "aac", "audio/aac", "aac"),
    ("opus", "opus", "audio/ogg", "opus"),
    ("ogg", "vorbis", "audio/ogg", "ogg"),
    ("wav", "pcm_s16le", "audio/wav", "wav"),
    ("flac", "flac", "audio/flac", "flac"),
])
def test_audio_formats(env: TaskEnvironment, media: MediaFactory, tmp_path: Path, fmt: str, codec: str,
                       content_type: str, ext: str) -> None:
    ref = upload_file(env, media.tone(2.0))
    config: dict[str, Any] = {"outputFormat": fmt, "channels": 1, "compressionLevel": 50}
    if fmt != "opus":
        config["sampleRate"] = 22050
    result = _run(env, ref, ("enc", "audio", config))
    out = result.media
    assert (out.content_type, out.media_type, out.filename) == (content_type, "audio", f"tone-2.{ext}")
    assert out.width is None and out.duration_ms == pytest.approx(2000, abs=150)
    (a,) = _streams(ffprobe(_out(env, out, tmp_path)), "audio")
    assert a["codec_name"] == codec and a["channels"] == 1
    assert int(a["sample_rate"]) == (48000 if fmt == "opus" else 22050)


def test_audio_bitrate_from_compression_level(env: TaskEnvironment, media: MediaFactory) -> None:
    ref = upload_file(env, media.tone(2.0))
    low = _run(env, ref, ("enc", "audio", {"outputFormat": "mp3", "compressionLevel": 1}))
    high = _run(env, ref, ("enc", "audio", {"outputFormat": "mp3", "compressionLevel": 100}))
    assert low.outcomes[0].output is not None and low.outcomes[0].output["bitrateKbps"] == 32
    assert high.outcomes[0].output is not None and high.outcomes[0].output["bitrateKbps"] == 320
    assert low.media.size * 5 < high.media.size


def test_podcast_trim_and_two_pass_loudness(env: TaskEnvironment, media: MediaFactory, tmp_path: Path) -> None:
    ref = upload_file(env, media.tone(6.0))
    result = _run(env, ref, ("trim", "trim", {"startSeconds": 2}),
                  ("encode", "audio", {"outputFormat": "mp3", "bitrateKbps": 64, "channels": 1,
                                       "normalizeLoudness": True, "targetLufs": -16}),
                  ("name", "rename", {"pattern": "episode-{original}"}))
    assert result.media.filename == "episode-tone-6.mp3"
    assert result.media.key == "acme/runs/run-1/encode/episode-tone-6.mp3"
    assert [o.node_id for o in result.outcomes] == ["trim", "encode", "name"]
    assert result.outcomes[1].output is not None and result.outcomes[1].output["loudness"] == "two-pass"
    path = _out(env, result.media, tmp_path)
    (a,) = _streams(ffprobe(path), "audio")
    assert (a["codec_name"], a["channels"], int(a["bit_rate"]) // 1000) == ("mp3", 1, 64)
    assert float(ffprobe(path)["format"]["duration"]) == pytest.approx(4.0, abs=0.15)
    assert _loudness(path) == pytest.approx(-16.0, abs=1.0)


# --------------------------------------------------------------------------------------------------
# trim

def test_trim_reencodes_to_the_same_container(env: TaskEnvironment, media: MediaFactory, tmp_path: Path) -> None:
    ref = upload_file(env, media.clip())
    result = _run(env, ref, ("cut", "trim", {"startSeconds": 0.5, "endSeconds": 2.0}))
    assert result.media.filename == "clip-4-320x240-25.mp4"
    info = ffprobe(_out(env, result.media, tmp_path))
    assert float(info["format"]["duration"]) == pytest.approx(1.5, abs=0.1)
    assert [s["codec_name"] for s in info["streams"]] == ["h264", "aac"]


def test_trim_stream_copy(env: TaskEnvironment, media: MediaFactory, tmp_path: Path,
                          calls: list[list[str]]) -> None:
    ref = upload_file(env, media.clip())
    result = _run(env, ref, ("cut", "trim", {"startSeconds": 1, "durationSeconds": 2, "streamCopy": True}))
    (argv,) = _ffmpeg_runs(calls)
    assert argv[argv.index("-c") + 1] == "copy"
    info = ffprobe(_out(env, result.media, tmp_path))
    # Cut points snap to keyframes (one per second in the source).
    assert float(info["format"]["duration"]) == pytest.approx(2.0, abs=1.05)
    assert [s["codec_name"] for s in info["streams"]] == ["h264", "aac"]


def test_trim_of_audio(env: TaskEnvironment, media: MediaFactory, tmp_path: Path) -> None:
    ref = upload_file(env, media.tone(4.0))
    result = _run(env, ref, ("cut", "trim", {"startSeconds": 1, "durationSeconds": 1.5}))
    assert result.media.content_type == "audio/wav"
    assert float(ffprobe(_out(env, result.media, tmp_path))["format"]["duration"]) == pytest.approx(1.5, abs=0.02)


def test_trim_past_the_end(env: TaskEnvironment, media: MediaFactory) -> None:
    ref = upload_file(env, media.clip(1.0))
    with pytest.raises(MediaDecodeError, match="after the end") as caught:
        _run(env, ref, ("cut", "trim", {"startSeconds": 5}))
    assert caught.value.node_id == "cut"


# --------------------------------------------------------------------------------------------------
# Frames: poster_frame, thumbnail, storyboard, gif

@pytest.mark.parametrize(("config", "codec", "size"), [
    ({"atSeconds": 1.0, "width": 160}, "mjpeg", (160, 120)),
    ({"atPercent": 50, "outputFormat": "png"}, "png", (320, 240)),
    ({"bestFrame": True, "outputFormat": "webp", "width": 200}, "webp", (200, 150)),
])
def test_poster_frame(env: TaskEnvironment, media: MediaFactory, tmp_path: Path, calls: list[list[str]],
                      config: dict[str, Any], codec: str, size: tuple[int, int]) -> None:
    ref = upload_file(env, media.clip())
    result = _run(env, ref, ("poster", "poster_frame", config))
    assert (result.media.width, result.media.height) == size
    assert result.media.media_type == "image" and result.media.duration_ms is None
    (v,) = _streams(ffprobe(_out(env, result.media, tmp_path)), "video")
    assert (v["codec_name"], v["width"], v["height"]) == (codec, *size)
    (argv,) = _ffmpeg_runs(calls)
    if "atSeconds" in config or "atPercent" in config:
        assert argv.index("-ss") < argv.index("-i")
        assert float(argv[argv.index("-ss") + 1]) == pytest.approx(config.get("atSeconds", 2.0))


def test_thumbnail_of_a_video(env: TaskEnvironment, media: MediaFactory, tmp_path: Path) -> None:
    ref = upload_file(env, media.clip())
    result = _run(env, ref, ("t", "thumbnail", {"source": "video", "width": 100, "height": 100, "crop": "centre",
                                                "outputFormat": "jpeg", "atSeconds": 3}))
    assert (result.media.width, result.media.height, result.media.content_type) == (100, 100, "image/jpeg")
    (v,) = _streams(ffprobe(_out(env, result.media, tmp_path)), "video")
    assert (v["width"], v["height"]) == (100, 100)


def test_storyboard_sprite_and_vtt(env: TaskEnvironment, media: MediaFactory, tmp_path: Path) -> None:
    ref = upload_file(env, media.clip())
    result = _run(env, ref, ("sb", "storyboard", {"intervalSeconds": 1, "tileWidth": 80, "columns": 3}),
                  ("name", "rename", {"pattern": "{original}-sprite"}))
    sprite = result.media
    assert (sprite.filename, sprite.content_type, sprite.width, sprite.height) == (
        "clip-4-320x240-25-sprite.jpg", "image/jpeg", 240, 120)
    (v,) = _streams(ffprobe(_out(env, sprite, tmp_path)), "video")
    assert (v["width"], v["height"]) == (240, 120)
    (vtt_ref,) = sprite.related
    assert vtt_ref["contentType"] == "text/vtt" and vtt_ref["filename"] == "clip-4-320x240-25-sprite.vtt"
    assert vtt_ref["key"] == "acme/runs/run-1/sb/clip-4-320x240-25-sprite.vtt"
    text = _out(env, vtt_ref, tmp_path).read_text()
    assert text.startswith("WEBVTT\n")
    cues = re.findall(r"(\d\d:\d\d:\d\d\.\d{3}) --> (\d\d:\d\d:\d\d\.\d{3})\n(\S+)", text)
    assert [(start, end) for start, end, _ in cues] == [
        ("00:00:00.000", "00:00:01.000"), ("00:00:01.000", "00:00:02.000"), ("00:00:02.000", "00:00:03.000"),
        ("00:00:03.000", "00:00:04.000")]
    assert [target for _, _, target in cues] == [
        "clip-4-320x240-25-sprite.jpg#xywh=0,0,80,60", "clip-4-320x240-25-sprite.jpg#xywh=80,0,80,60",
        "clip-4-320x240-25-sprite.jpg#xywh=160,0,80,60", "clip-4-320x240-25-sprite.jpg#xywh=0,60,80,60"]


def test_gif_palette_frames_and_loop(env: TaskEnvironment, media: MediaFactory, tmp_path: Path,
                                     calls: list[list[str]]) -> None:
    ref = upload_file(env, media.clip())
    result = _run(env, ref, ("g", "gif", {"fps": 8, "width": 160, "startSeconds": 1, "durationSeconds": 2,
                                          "loop": 3}))
    (argv,) = _ffmpeg_runs(calls)
    graph = argv[argv.index("-filter_complex") + 1]
    assert "palettegen" in graph and "paletteuse" in graph and "split" in graph
    out = result.media
    assert (out.content_type, out.width, out.height, out.duration_ms) == ("image/gif", 160, 120, 2000)
    path = _out(env, out, tmp_path)
    assert count_frames(path) == 16
    data = path.read_bytes()
    assert b"NETSCAPE2.0\x03\x01\x03\x00" in data, "loop count 3 in the Netscape extension"


def test_animated_webp(env: TaskEnvironment, media: MediaFactory, tmp_path: Path) -> None:
    ref = upload_file(env, media.clip())
    result = _run(env, ref, ("g", "gif", {"outputFormat": "webp", "fps": 5, "width": 120, "durationSeconds": 2}))
    data = _out(env, result.media, tmp_path).read_bytes()
    assert data[:4] == b"RIFF" and data[8:12] == b"WEBP" and b"ANIM" in data
    assert data.count(b"ANMF") == 10
    assert (result.media.content_type, result.media.width, result.media.height) == ("image/webp", 120, 90)


# --------------------------------------------------------------------------------------------------
# Hostile and broken input

@pytest.fixture
def recorder() -> Iterator[ConnectionRecorder]:
    server = ConnectionRecorder()
    yield server
    server.close()


def test_hls_playlist_named_mp4_is_refused_without_network(env: TaskEnvironment, recorder: ConnectionRecorder,
                                                           tmp_path: Path, calls: list[list[str]]) -> None:
    playlist = (f"#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:10.0,\nhttp://127.0.0.1:{recorder.port}/x.ts\n"
                "#EXT-X-ENDLIST\n").encode()
    source = tmp_path / "movie.mp4"
    source.write_bytes(playlist)
    ref = upload_file(env, source)
    started = time.monotonic()
    with pytest.raises(UnsupportedMedia, match="HLS playlist"):
        _run(env, ref, ("web", "transcode", {}))
    assert time.monotonic() - started < 2
    assert calls == [], "refused from the magic bytes, before ffmpeg"
    # Even handed straight to ffprobe, the pinned demuxer and protocols keep it off the network.
    with pytest.raises(MediaDecodeError):
        read_info(source, "mov", settings=env.settings)
    time.sleep(0.3)
    assert recorder.connections == []
    assert isinstance(env.blobs, FolderBlobs) and env.blobs.read(ref.key) == playlist


def test_ffconcat_named_mov_is_refused(env: TaskEnvironment, tmp_path: Path, media: MediaFactory,
                                       calls: list[list[str]]) -> None:
    text = f"ffconcat version 1.0\nfile '{media.clip(1.0)}'\nfile '/etc/passwd'\n".encode()
    source = tmp_path / "edit.mov"
    source.write_bytes(text)
    ref = upload_file(env, source)
    with pytest.raises(UnsupportedMedia, match="ffconcat"):
        _run(env, ref, ("p", "poster_frame", {}))
    assert calls == []
    assert isinstance(env.blobs, FolderBlobs) and env.blobs.read(ref.key) == text


@pytest.mark.parametrize("faststart", [True, False])
def test_truncated_mp4(env: TaskEnvironment, tmp_path: Path, media: MediaFactory, faststart: bool) -> None:
    source = media.clip(2.0)
    if not faststart:
        moved = tmp_path / "index-last.mp4"
        assert FFMPEG is not None
        subprocess.run([FFMPEG, "-loglevel", "error", "-y", "-i", str(source), "-c", "copy", str(moved)], check=True)
        source = moved
    data = source.read_bytes()
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(data[: len(data) // 2])
    ref = upload_file(env, broken)
    started = time.monotonic()
    with pytest.raises(MediaDecodeError) as caught:
        _run(env, ref, ("web", "transcode", {}))
    assert time.monotonic() - started < 10
    assert caught.value.node_id == "web"
    assert isinstance(env.blobs, FolderBlobs) and env.blobs.read(ref.key) == data[: len(data) // 2]


def test_images_and_empty_files_are_refused(env: TaskEnvironment, tmp_path: Path) -> None:
    png = tmp_path / "frame.mp4"
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 100)
    with pytest.raises(UnsupportedMedia, match="image"):
        _run(env, upload_file(env, png), ("web", "transcode", {}))
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    with pytest.raises(EmptyMedia):
        _run(env, upload_file(env, empty), ("web", "transcode", {}))


def test_ffmpeg_is_killed_past_its_time_limit(tmp_path: Path, media: MediaFactory) -> None:
    env = make_env(tmp_path, ffmpeg_timeout_seconds=0.3)
    ref = upload_file(env, media.clip(2.0, "640x360"))
    started = time.monotonic()
    with pytest.raises(ToolchainError, match=r"limit of 0\.3 s") as caught:
        _run(env, ref, ("w", "transcode", {"outputFormat": "webm"}))
    assert time.monotonic() - started < 5
    assert caught.value.node_id == "w"


# --------------------------------------------------------------------------------------------------
# The task contract

def test_execute_task_with_light_ops_around(tmp_path: Path, media: MediaFactory) -> None:
    env = make_env(tmp_path)
    ref = upload_file(env, media.clip(2.0))
    task = payload(ref, ("cut", "trim", {"startSeconds": 0.5}), ("name", "rename", {"pattern": "short-{original}"}),
                   ("poster", "poster_frame", {"atSeconds": 0}), ("tag", "transform", {"set": {"kind": "poster"}}))
    state = execute_task(task.model_dump(by_alias=True), env)
    assert state["filename"] == "short-clip-2-320x240-25.jpg" and state["metadata"] == {"kind": "poster"}
    assert state["key"] == "acme/runs/run-1/poster/short-clip-2-320x240-25.jpg"


def test_worker_declares_its_kinds_and_examples_are_runnable() -> None:
    import json

    assert {"transcode", "audio", "trim", "poster_frame", "storyboard", "gif", "extract_audio", "convert",
            "thumbnail"} <= kinds_for("ffmpeg")
    for name in ("audio-podcast", "video-poster-preview"):
        definition = json.loads((ROOT / "examples" / f"{name}.json").read_text())
        assert missing_runtimes(compile_workflow(definition)) == []


def test_image_kinds_are_refused_by_the_ffmpeg_worker(env: TaskEnvironment, media: MediaFactory) -> None:
    ref = upload_file(env, media.clip(1.0))
    with pytest.raises(InvalidDefinition, match="libvips"):
        _run(env, ref, ("c", "convert", {"outputFormat": "webp"}))
    with pytest.raises(InvalidDefinition, match="does not run on the ffmpeg worker"):
        _run(env, ref, ("r", "resize", {"width": 10}))


def test_inspect_reports_streams_of_a_video(tmp_path: Path) -> None:
    from mediaflow import samples

    from tests.e2e.image_support import make_env, payload, upload

    clip = samples.video(tmp_path / "clip.mp4", 2.0, size="320x240")
    env = make_env(tmp_path)
    media = upload(env, clip.read_bytes(), "clip.mp4")
    result = execute_task(payload(media, ("look", "inspect", {})), env)
    assert (result["width"], result["height"], result["durationMs"]) == (320, 240, 2000)
    assert result["key"] == media.key  # inspect leaves the media where it is
