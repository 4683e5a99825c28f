from ibpipe.cli import app

app(prog_name="python -m ibpipe")
