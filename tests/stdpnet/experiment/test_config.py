"""Typed run configuration: one merge (defaults < preset < file < command line), validation naming
the dotted key, exact round trip."""
import json
import math
from pathlib import Path

import pytest

from stdpnet import Network
from stdpnet.errors import ConfigError
from stdpnet.experiment.config import (EXPERIMENT_DEFAULTS, RunConfig, build_config, load_config_file,
                                       merge_config)

NMNIST_DATA = "nmnist:/somewhere"  # not opened by the configuration


def test_experiment_defaults_train_the_synthetic_preset():
    cfg = build_config()
    assert cfg.network.net == "synthetic" and cfg.seed == 0
    assert cfg.data.source == "synthetic:2000" and cfg.data.val_fraction == 0.2
    assert cfg.readout.kind == "classifier" and cfg.readout.params == {}
    assert cfg.training.epochs == 1
    assert (cfg.training.checkpoint_every_samples, cfg.training.checkpoint_every_s) == (500, 60.0)
    assert cfg.training.on_bad == "error"
    # the network part is the preset's, spelt out in full
    assert cfg.network.layers["fc1"]["theta_learn"] == 20 and cfg.network.layers["fc1"]["r_infer"] == 0
    assert cfg.network.layers["conv1"]["stdp"]["alpha_plus"] == pytest.approx(0.032)  # -8 * alpha_minus


def test_presets_carry_their_experiment_defaults():
    cfg = build_config(net="nmnist", data=NMNIST_DATA)
    assert cfg.training.epochs == 3
    assert cfg.readout.kind == "classifier"
    assert cfg.readout.params == {"eta": 0.05, "w_init_mean": 0.3, "m": 0.25}
    assert build_config(net="nmnist", data=NMNIST_DATA, readout="count", epochs=1).readout.params == {}


def test_rstdp_is_chosen_when_the_network_is_built():
    cfg = build_config(net="mnist_reference", data="mnist:a:b", readout="rstdp")
    assert cfg.readout.kind == "rstdp" and cfg.readout.params == {}
    fc1 = cfg.network.layers["fc1"]
    assert fc1["rule"] == "rstdp" and fc1["rstdp"]["a_r_plus"] == 0.4 and fc1["rstdp"]["a_p_minus"] == 0.05
    assert cfg.network.layers["conv1"]["rule"] == "stdp"
    # a file's own top-layer rates win over the preset's
    cfg = build_config({"layers": {"fc1": {"rstdp": {"a_r_plus": 0.1}}}}, net="mnist_reference",
                       data="mnist:a:b", readout="rstdp")
    assert cfg.network.layers["fc1"]["rstdp"]["a_r_plus"] == 0.1
    assert cfg.network.layers["fc1"]["rstdp"]["a_r_minus"] == -0.3
    with pytest.raises(ConfigError, match=r"layers.fc1.rule"):
        build_config({"layers": {"fc1": {"rule": "stdp"}}}, readout="rstdp")


def test_merge_order_defaults_preset_file_command_line():
    file = {"net": "synthetic", "seed": 7, "readout": {"kind": "classifier", "eta": 0.5},
            "training": {"epochs": 2}, "layers": {"conv1": {"theta_learn": 9.0}}}
    cfg = merge_config(("file", file), ("command line", {"training": {"epochs": 3}}))
    assert cfg.training.epochs == 3  # command line > file
    assert cfg.seed == 7  # the file's seed is honoured when the command line sets none
    assert cfg.readout.params == {"eta": 0.5}
    assert cfg.network.layers["conv1"]["theta_learn"] == 9.0  # file > preset (8)
    assert cfg.network.layers["fc1"]["theta_learn"] == 20  # preset > generic default (30)
    assert merge_config(("file", file), ("command line", {"seed": 0})).seed == 0
    # another readout on the command line drops the file's classifier parameters
    assert merge_config(("file", file), ("command line", {"readout": {"kind": "count"}})).readout.params == {}


def test_a_seed_in_the_file_survives_the_cli_default(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text("seed = 11\n")
    assert build_config(path).seed == 11
    assert build_config(path, seed=3).seed == 3


@pytest.mark.parametrize("layer, key", [
    ({"layers": {"conv1": {"theta_learn": "8"}}}, "layers.conv1.theta_learn"),
    ({"layers": {"conv1": {"theta_learn": True}}}, "layers.conv1.theta_learn"),
    ({"layers": {"conv1": {"theta_learn": math.nan}}}, "layers.conv1.theta_learn"),
    ({"layers": {"conv1": {"stdp": {"alpha_minus": "x"}}}}, "layers.conv1.stdp.alpha_minus"),
    ({"layers": {"conv1": {"r_learn": -1}}}, "layers.conv1.r_learn"),
    ({"layers": {"conv1": {"learning": 1}}}, "layers.conv1.learning"),
    ({"training": {"epochs": 1.5}}, "training.epochs"),
    ({"training": {"epochs": 0}}, "training.epochs"),
    ({"training": {"on_bad": "ignore"}}, "training.on_bad"),
    ({"seed": -1}, "seed"),
    ({"seed": 1.0}, "seed"),
    ({"dt_us": 0}, "dt_us"),
    ({"data": {"val_fraction": 1.0}}, "data.val_fraction"),
    ({"data": {"val_fraction": -0.1}}, "data.val_fraction"),
    ({"data": {"source": "synthetic:0"}}, "data.source"),
    ({"data": {"source": "imagenet:/x"}}, "data.source"),
    ({"data": {"max_train": 0}}, "data.max_train"),
    ({"readout": {"kind": "svm"}}, "readout.kind"),
    ({"readout": {"kind": "classifier", "eta": "fast"}}, "readout.eta"),
])
def test_bad_values_name_the_dotted_key(layer, key):
    with pytest.raises(ConfigError) as e:
        merge_config(("my.toml", layer))
    assert key in str(e.value) and "my.toml" in str(e.value)


@pytest.mark.parametrize("layer, key, suggestion", [
    ({"layers": {"conv1": {"theta_lern": 8}}}, "layers.conv1.theta_lern", "theta_learn"),
    ({"layers": {"conv3": {}}}, "layers.conv3", "conv1"),
    ({"trainig": {}}, "trainig", "training"),
    ({"data": {"sourse": "synthetic"}}, "data.sourse", "source"),
    ({"readout": {"kind": "classifier", "etta": 1.0}}, "readout.etta", "eta"),
])
def test_unknown_keys_suggest_the_nearest(layer, key, suggestion):
    with pytest.raises(ConfigError, match=rf"{key}.*did you mean '{suggestion}'"):
        merge_config(("file", layer))


def test_old_layout_keys_say_where_they_moved():
    with pytest.raises(ConfigError, match=r"training.readout.*moved to \[readout\]"):
        merge_config(("file", {"training": {"readout": {"kind": "count"}}}))
    with pytest.raises(ConfigError, match="top layer"):
        merge_config(("file", {"readout": {"kind": "rstdp", "rstdp": {"a_r_plus": 1.0}}}))


def test_layer_parameters_are_checked_by_the_model():
    with pytest.raises(ConfigError, match=r"layers.conv1.*theta_learn must be > 0"):
        merge_config(("file", {"layers": {"conv1": {"theta_learn": -1}}}))


@pytest.mark.parametrize("options", [
    {},
    {"net": "34x34x2-4C5-P2-8", "data": NMNIST_DATA, "readout": "count", "epochs": 2, "seed": 5},
    {"net": "mnist_reference", "data": "mnist:a:b", "readout": "rstdp", "max_train": 10, "max_val": 0},
    {"net": "nmnist", "data": NMNIST_DATA, "val_fraction": 0.0, "gap_us": 500, "on_bad": "skip"},
])
def test_to_dict_round_trips_exactly_through_json(options):
    cfg = build_config(**options)
    saved = json.loads(json.dumps(cfg.to_dict()))
    assert RunConfig.from_dict(saved) == cfg
    # and the saved file given back as --config rebuilds the same configuration
    assert merge_config(("saved", saved)) == cfg
    assert Network.from_config(cfg.network_dict()).spec.text == Network.from_config(
        RunConfig.from_dict(saved).network_dict()).spec.text


def test_from_dict_is_exact_not_a_merge():
    saved = build_config().to_dict()
    del saved["training"]["epochs"]
    with pytest.raises(ConfigError, match=r"\[training\] lacks \['epochs'\]"):
        RunConfig.from_dict(saved)


def test_data_paths_are_stored_absolute(tmp_path, monkeypatch):
    (tmp_path / "sub").mkdir()
    (tmp_path / "rec.npy").write_bytes(b"")
    monkeypatch.chdir(tmp_path / "sub")
    cfg = build_config(data="nmnist:../nm")
    assert cfg.data.source == f"nmnist:{tmp_path / 'nm'}"
    assert build_config(data="../rec.npy").data.source == str(tmp_path / "rec.npy")
    # in a file, relative paths are relative to the file's folder
    conf = tmp_path / "conf" / "run.toml"
    conf.parent.mkdir()
    conf.write_text('[data]\nsource = "nmnist:data/Train"\n')
    assert build_config(conf).data.source == f"nmnist:{tmp_path / 'conf' / 'data' / 'Train'}"


def test_preset_data_needs_the_data_folder(monkeypatch, tmp_path):
    monkeypatch.setenv("STDPNET_DATA", str(tmp_path / "absent"))
    with pytest.raises(ConfigError, match="pass --data SOURCE or set STDPNET_DATA"):
        build_config(net="nmnist")
    monkeypatch.setenv("STDPNET_DATA", str(tmp_path))
    assert build_config(net="nmnist").data.source == f"nmnist:{tmp_path}/nmnist/Train"


def test_files_toml_and_json(tmp_path):
    toml = tmp_path / "a.toml"
    toml.write_text('net = "synthetic"\n[layers.conv1]\nr_infer = "none"\n[readout]\nkind = "count"\n')
    cfg = build_config(toml)
    assert cfg.network.layers["conv1"]["r_infer"] is None and cfg.readout.kind == "count"
    js = tmp_path / "config.json"
    js.write_text(json.dumps(cfg.to_dict()))
    assert build_config(js) == cfg


@pytest.mark.parametrize("content, message", [
    ("net = \n", "not valid TOML"),
    ("net = 'synthetic'\n".encode("utf-16"), "not UTF-8"),
    ("[layers.conv1]\ntheta_learn = nan\n", "layers.conv1.theta_learn"),
])
def test_broken_files_are_one_clear_error(tmp_path, content, message):
    path = tmp_path / "bad.toml"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(ConfigError, match=message):
        build_config(path)


def test_broken_json_and_missing_file(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text('{"seed": NaN}')
    with pytest.raises(ConfigError, match="NaN"):
        load_config_file(path)
    with pytest.raises(ConfigError, match="does not exist"):
        load_config_file(tmp_path / "nope.toml")


def test_defaults_table_is_not_modified_by_merging():
    before = json.dumps(EXPERIMENT_DEFAULTS, sort_keys=True)
    build_config({"data": {"val_fraction": 0.5}}, epochs=4)
    assert json.dumps(EXPERIMENT_DEFAULTS, sort_keys=True) == before
