"""How the command tests read a refusal."""

import pytest


def refused(main, argv) -> str:
    with pytest.raises(SystemExit) as raised:
        main(argv)
    # One line saying what is wrong (an unexpected kind of error adds a --verbose hint below).
    message = str(raised.value.code).splitlines()[0]
    assert message.startswith(('error: ', 'config error: ')), message
    return message
