"""Recommended encoders, and an unloadable encoder stopping training before anything is built."""
import shutil
from pathlib import Path

import pytest
import spacy
from spacy.tokens import DocBin
from typer.testing import CliRunner

from spacy_bert_ner.cli import app
from spacy_bert_ner.training.encoders import MULTILINGUAL, RECOMMENDED, check_encoder, recommended
from spacy_bert_ner.errors import UserError

ROOT = Path(__file__).resolve().parent.parent
runner = CliRunner()


def test_every_promised_language_has_an_encoder():
    for lang in ("de", "nl", "es", "fi", "da", "nb", "sv", "pl", "pt", "cs", "zh", "ja", "th", "ko"):
        assert RECOMMENDED[lang], lang
    names = {enc.name for enc in RECOMMENDED[MULTILINGUAL]}
    assert {"xlm-roberta-base", "xlm-roberta-large", "bert-base-multilingual-cased",
            "intfloat/multilingual-e5-small", "intfloat/multilingual-e5-base"} <= names
    all_names = [enc.name for _, enc in recommended()]
    assert len(all_names) == len(set(all_names))
    assert all(enc.params_m > 0 and enc.reason for _, enc in recommended())


def test_language_rows_come_before_multilingual_ones():
    rows = recommended("DE")
    assert rows[0] == ("de", RECOMMENDED["de"][0])
    assert [code for code, _ in rows].count(MULTILINGUAL) == len(RECOMMENDED[MULTILINGUAL])
    assert recommended("no")[0][0] == "nb"  # Norwegian's ISO code maps to spaCy's nb


def test_models_command():
    result = runner.invoke(app, ["models", "--lang", "de"])
    assert result.exit_code == 0
    assert "deepset/gbert-base" in result.output and "xlm-roberta-base" in result.output
    assert "GroNLP" not in result.output
    other = runner.invoke(app, ["models", "--lang", "ta"])
    assert other.exit_code == 0 and "No language-specific encoder listed for 'ta'" in other.output
    assert "hfl/chinese-roberta-wwm-ext" in runner.invoke(app, ["models", "--lang", "zh"]).output
    assert "ufal/robeczech-base" in runner.invoke(app, ["models"]).output


def test_check_encoder_accepts_a_local_model_and_not_the_same_folder_without_its_config(tiny_transformer, tmp_path):
    check_encoder(str(tiny_transformer))  # a UserError would fail the test
    broken = tmp_path / "broken"
    shutil.copytree(tiny_transformer, broken)
    (broken / "config.json").unlink()
    with pytest.raises(UserError, match=f"Cannot load encoder '{broken}'"):
        check_encoder(str(broken))


@pytest.mark.parametrize("name, message", [
    ("/no/such/encoder-dir", "does not exist"),
    ("no-such-org/no-such-bert", "HF_HUB_OFFLINE=1"),
])
def test_check_encoder_fails_with_what_to_do(name, message):
    with pytest.raises(UserError, match=message) as err:
        check_encoder(name)
    assert "components.transformer.model.name" in str(err.value)


def test_check_encoder_rejects_a_directory_without_a_model(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(UserError, match="Cannot load encoder"):
        check_encoder(str(tmp_path))


@pytest.mark.parametrize("cfg", ["ner_trf.cfg", "tokcls_trf.cfg"])
def test_training_with_an_unloadable_encoder_stops_before_building(tmp_path, cfg):
    DocBin(docs=[spacy.blank("da")("Anna bor i Berlin .")]).to_disk(tmp_path / "d.spacy")
    result = runner.invoke(app, [
        "train", str(ROOT / "configs" / cfg), "--output", str(tmp_path / "out"),
        "--paths.train", str(tmp_path / "d.spacy"), "--paths.dev", str(tmp_path / "d.spacy"),
        "--components.transformer.model.name", "no-such-org/no-such-bert",
    ])
    assert result.exit_code != 0
    assert isinstance(result.exception, UserError)
    assert "Cannot load encoder 'no-such-org/no-such-bert'" in str(result.exception)
    assert not (tmp_path / "out" / "model-last").exists()
