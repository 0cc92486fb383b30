"""The Sphinx extension, under the name a ``conf.py`` lists::

    extensions = ["teachtls.sphinxext"]

The directives live in `teachtls.render.sphinxext` (with the other
renderers); this module only gives Sphinx the short name.
"""

from teachtls.render.sphinxext import setup

__all__ = ["setup"]
