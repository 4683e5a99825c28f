from ibpipe.cli import app
from ibpipe.io import stage

stage.owns_process = True  # this process is the command line: after Ctrl-C its shutdown may be silenced
app(prog_name="python -m ibpipe")
