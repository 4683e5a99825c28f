"""Callbacks that record a run of another library's training loop: thin layers over ``ibpipe.Recorder``.

``lightning.InformationCallback`` (extra ``ibpipe[lightning]``) and ``transformers.InformationCallback``
(extra ``ibpipe[transformers]``); each imports its library only when its module is imported.
"""
