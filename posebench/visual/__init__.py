"""Seeing results: pose axes drawn on images (:mod:`.draw`), worst-case galleries of a run
(:mod:`.gallery`), an HTML report of a results folder (:mod:`.report`) and video (:mod:`.video`)."""
