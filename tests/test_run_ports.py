"""A taken port stops the run command at once, named, instead of a service restarting forever.

Before, `./scripts/run` next to an earlier run (or anything on 8080) started everything, the gateway failed to
bind and the supervisor restarted it again and again while the run kept printing "starting".
"""

from __future__ import annotations

import socket

import pytest

from core.ports import Wanted, main, parse, taken
from core.stack import RunCommand, free_port


def test_a_second_run_next_to_a_held_gateway_port_says_which_port_and_starts_nothing() -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        held = holder.getsockname()[1]
        run = RunCommand.start({"GATEWAY_PORT": str(held)})
        try:
            assert run.process.wait(timeout=120) == 1
            log = run.log_path.read_text(encoding="utf-8", errors="replace")
            assert f"port {held} (GATEWAY_PORT) is already in use" in log
            assert "GATEWAY_PORT=8081 ./scripts/run" in log
            assert not (run.data_dir / "postgres").exists()  # nothing was prepared or started
        finally:
            run.stop()


def test_two_settings_naming_one_port_are_reported_and_free_ports_pass(capsys: pytest.CaptureFixture[str]) -> None:
    port = free_port()
    assert taken([Wanted("RASA_PORT+1", port), Wanted("GATEWAY_PORT", port)]) == [
        Wanted("GATEWAY_PORT (also RASA_PORT+1)", port)
    ]
    assert main([f"GATEWAY_PORT={free_port()}", f"ACTIONS_PORT={free_port()}"]) == 0
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("argument", ["GATEWAY_PORT", "GATEWAY_PORT=", "GATEWAY_PORT=http", "GATEWAY_PORT=70000"])
def test_a_malformed_port_setting_is_refused_by_name(argument: str) -> None:
    with pytest.raises(SystemExit, match="is not NAME=PORT"):
        parse(argument)
