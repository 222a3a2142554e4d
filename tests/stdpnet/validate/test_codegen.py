"""Brian2 code generation settings of the twin: preferences restored, progress lines, estimates."""
import pytest

from stdpnet.errors import ParameterError
from stdpnet.validate.brian2 import codegen


def test_progress_sink(capsys):
    codegen.progress_sink(True)("building")
    assert capsys.readouterr().err == "building\n"
    lines = []
    codegen.progress_sink(lines.append)("x")
    codegen.progress_sink(None)("silent")
    codegen.progress_sink(False)("silent")
    assert lines == ["x"] and capsys.readouterr() == ("", "")
    with pytest.raises(ParameterError, match="progress must be"):
        codegen.progress_sink("yes")


def test_target_is_checked():
    with pytest.raises(ParameterError, match="'numpy' or 'cython'.*no C compiler"):
        codegen.check_target("cpp_standalone")


def test_brian2_prefs_are_set_inside_and_restored_after_ctrl_c():
    b2 = pytest.importorskip("brian2")
    before = (b2.prefs.codegen.target, b2.prefs.codegen.loop_invariant_optimisations,
              list(b2.prefs.codegen.cpp.extra_compile_args_gcc), b2.prefs.codegen.runtime.cython.cache_dir,
              b2.prefs.core.stop_on_keyboard_interrupt)
    with pytest.raises(KeyboardInterrupt):
        with codegen.brian2_prefs(b2, "cython"):
            assert b2.prefs.codegen.target == "cython"
            assert b2.prefs.codegen.loop_invariant_optimisations is False
            assert "-ffp-contract=off" in b2.prefs.codegen.cpp.extra_compile_args_gcc
            assert "-ffast-math" not in b2.prefs.codegen.cpp.extra_compile_args_gcc
            assert b2.prefs.codegen.runtime.cython.cache_dir.endswith(codegen.IEEE_CACHE_SUBDIR)
            assert b2.prefs.core.stop_on_keyboard_interrupt is False  # Ctrl-C raises, never a quiet stop
            raise KeyboardInterrupt
    after = (b2.prefs.codegen.target, b2.prefs.codegen.loop_invariant_optimisations,
             list(b2.prefs.codegen.cpp.extra_compile_args_gcc), b2.prefs.codegen.runtime.cython.cache_dir,
             b2.prefs.core.stop_on_keyboard_interrupt)
    assert after == before


def test_first_run_estimate(tmp_path):
    b2 = pytest.importorskip("brian2")
    assert codegen.first_run_estimate_s("numpy", 3, 2_000_000) == pytest.approx(1.0 + 1.5 * 2)
    old = b2.prefs.codegen.runtime.cython.cache_dir
    b2.prefs.codegen.runtime.cython.cache_dir = str(tmp_path)  # an empty cache: every module compiles
    try:
        assert codegen.first_run_estimate_s("cython", 2, 0) == pytest.approx(4.5 * (5 + 17 * 2))
        (tmp_path / codegen.IEEE_CACHE_SUBDIR).mkdir()
        for i in range(39):
            (tmp_path / codegen.IEEE_CACHE_SUBDIR / f"m{i}.so").touch()
        assert codegen.first_run_estimate_s("cython", 2, 0) == pytest.approx(1.0 + 2.0)  # warm cache
    finally:
        b2.prefs.codegen.runtime.cython.cache_dir = old
