"""The dashboard (service layer): one page at ``/`` served by the exchange, plus the
aggregate read endpoints it needs under ``/web/api``. Plain HTML, CSS, JS and SVG in
``static/``; no build step, nothing fetched at run time.
"""

from suanli.web.routes import router

__all__ = ["router"]
