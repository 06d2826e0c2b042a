"""Bad configuration is refused with a message naming the key, before anything compiles."""

import glob
import os

import pytest

from experiments.run import load_config, parse_args
from models.core.config import ConfigError, apply_override, defaults, optimizer, validate
from models.core.family import make_family

CONFIGS = sorted(
    glob.glob(os.path.join(os.path.dirname(__file__), '..', '..', 'experiments', 'configs', '*.py'))
)
CONFIGS = [c for c in CONFIGS if not os.path.basename(c).startswith('_')]
# Tests use CONFIGS[0] as the fast baseline experiment, whatever other configs sort before it.
CONFIGS.sort(key=lambda c: os.path.basename(c) != 'pixel_categorical_digits.py')


def _base():
    c = defaults()
    c.model = 'baselines.pixel_categorical'
    c.data.name = 'digits8x8'
    return c


def test_defaults_plus_model_validate():
    validate(_base())


def test_unknown_key_is_named_with_suggestion():
    c = _base()
    c.train.stpes = 5
    with pytest.raises(ConfigError, match=r"train\.stpes.*Did you mean 'steps'"):
        validate(c)


def test_wrong_type_is_named():
    c = _base()
    with c.train.ignore_type():
        c.train.steps = 'many'
    with pytest.raises(ConfigError, match=r'train\.steps.*expected int'):
        validate(c)


def test_bad_choice_lists_valid_ones():
    c = _base()
    c.optim.model = optimizer(name='adagradx')
    with pytest.raises(ConfigError, match=r"optim\.model\.name.*'adam'"):
        validate(c)
    c = _base()
    c.train.on_nonfinite = 'ignore'
    with pytest.raises(ConfigError, match=r"on_nonfinite.*\['stop', 'skip'\]"):
        validate(c)


def test_override_parsing_and_errors():
    c = _base()
    apply_override(c, 'train.steps', '12')
    apply_override(c, 'optim.model.lr', '0.5')
    apply_override(c, 'train.progress', 'false')
    assert c.train.steps == 12 and c.optim.model.lr == 0.5 and c.train.progress is False
    with pytest.raises(ConfigError, match=r"Unknown config key 'train\.step'"):
        apply_override(c, 'train.step', '3')
    with pytest.raises(ConfigError, match='expected an integer'):
        apply_override(c, 'train.steps', '1.5')
    with pytest.raises(ConfigError, match="Unknown config key 'trian'"):
        apply_override(c, 'trian.steps', '1')
    apply_override(c, 'model_kw.data_init', 'False')  # free section: literal values
    assert c.model_kw.data_init is False


def test_unknown_model_kwarg_lists_valid_ones():
    with pytest.raises(ValueError, match=r"unknown key\(s\) \['dat_init'\].*data_init"):
        make_family('baselines.pixel_categorical', {'dat_init': True}, None)
    with pytest.raises(ValueError, match='no module'):
        make_family('baselines.pixel_categoricl', {}, None)


def test_cli_parses_overrides(tmp_path):
    config, workdir, verbose = parse_args(
        ['--config', f'{CONFIGS[0]}:smoke', '--workdir', str(tmp_path), '--config.train.steps=3']
    )
    assert config.train.steps == 3 and workdir == str(tmp_path) and not verbose
    with pytest.raises(ConfigError, match='train.stesp'):
        parse_args(['--config', CONFIGS[0], '--workdir', 'x', '--config.train.stesp=3'])
    with pytest.raises(ConfigError, match="Did you mean 'lr'"):
        parse_args(
            ['--config', CONFIGS[0], '--workdir', 'x', '--config.optim.model.learning_rate=3']
        )


def test_unknown_variant_is_refused_with_the_valid_ones():
    with pytest.raises(ConfigError, match=r"no variant 'smok'.*\['smoke'\]"):
        load_config(f'{CONFIGS[0]}:smok')


@pytest.mark.parametrize('path', CONFIGS, ids=os.path.basename)
def test_every_config_and_its_smoke_variant_validate(path):
    for variant in (None, 'smoke'):
        config = load_config(f'{path}:{variant}' if variant else path)
        validate(config)
        assert config.expected, f'{path}: config.expected must hold the paper (or measured) number'
    module_doc = open(path).read()
    assert 'Command:' in module_doc and 'Hardware:' in module_doc, (
        'docstring names command/hardware'
    )


@pytest.mark.parametrize(
    'path, valid', [
        ('autoregressive.pixelcnn', 'hidden'),
        ('autoregressive.gated_pixelcnn', 'features'),
        ('autoregressive.pixelcnnpp', 'filters'),
        ('autoregressive.made', 'hidden'),
        ('autoregressive.nade', 'hidden'),
    ],
)  # fmt: skip
def test_misspelt_model_kw_of_a_forwarding_make_names_the_valid_keys(path, valid):
    from models.data import image_spec

    with pytest.raises(ValueError, match=rf"unknown key\(s\) \['hiden'\].*'{valid}'"):
        make_family(path, {'hiden': 8}, image_spec((4, 4, 1), 2))
