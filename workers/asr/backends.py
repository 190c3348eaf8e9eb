"""Build the configured recogniser from :class:`~workers.asr.settings.AsrSettings`."""

from __future__ import annotations

from workers.asr.modeldir import RuntimeName, validate_model_dir
from workers.asr.priority import build_niced
from workers.asr.runtimes import EncoderRuntime, OnnxRuntime, RknnLiteRuntime
from workers.asr.sensevoice import SenseVoice
from workers.asr.settings import AsrSettings, WhisperModelName
from workers.asr.spotter import StopSpotter
from workers.asr.stopcheck import StopChecked
from workers.asr.transcript import Recognizer
from workers.asr.whisper import WhisperRecognizer

__all__ = ["open_recognizer"]


def open_recognizer(settings: AsrSettings) -> Recognizer:
    """Load the model of ``settings.backend`` (and the ``stop_check`` model, when set); files
    are checked before anything is loaded."""
    main = _open_main(settings)
    if settings.stop_check is None:
        return main
    sc = settings.stop_check
    try:  # built in a thread of lower priority: the model's threads inherit it
        spotter = None if sc.spotter_threshold is None else StopSpotter()
        check = build_niced(sc.nice, lambda: _whisper(settings, sc.model))
    except BaseException:
        main.close()
        raise
    return StopChecked(
        main,
        check,
        sc.max_audio_s,
        sc.max_words,
        sc.alternatives,
        sc.alternatives_margin,
        nice=sc.nice,
        spotter=spotter,
        spotter_threshold=sc.spotter_threshold or 1.0,
    )


def _whisper(settings: AsrSettings, model: WhisperModelName) -> WhisperRecognizer:
    w = settings.whisper
    return WhisperRecognizer(
        model,
        language=settings.language,
        threads=w.threads,
        auto_languages=w.auto_languages,
        cache_dir=w.cache_dir,
        beam_size=w.beam_size,
        window_s=w.window_s,
        hotwords=w.hotwords,
        loop_penalty=w.loop_penalty,
    )


def _open_main(settings: AsrSettings) -> Recognizer:
    if settings.backend == "whisper":
        return _whisper(settings, settings.whisper.model)
    sv = settings.sensevoice
    assert sv.model_dir is not None  # checked by AsrSettings
    runtime_name: RuntimeName = (
        "rknnlite" if settings.backend == "sensevoice-rknn" else "onnxruntime"
    )
    files = validate_model_dir(sv.model_dir, runtime_name, sv.encoder_file)
    runtime: EncoderRuntime
    if runtime_name == "rknnlite":
        runtime = RknnLiteRuntime(files.encoder, sv.core_mask)
    else:
        runtime = OnnxRuntime(files.encoder, sv.threads)
    try:
        return SenseVoice(
            files,
            runtime,
            language=settings.language,
            use_itn=settings.use_itn,
            speech_scale=sv.speech_scale,
        )
    except BaseException:
        runtime.close()
        raise
