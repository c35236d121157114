"""Reference catalogs: GPU models, sites, cities, rental prices and model architectures.

All rows come from package data and carry their source; look-ups are forgiving and an
unknown name raises :class:`~suanli.errors.NotFound` listing the closest matches.
"""

from suanli.catalog._lookup import normalise
from suanli.catalog.geography import City, Site, cities, city, place, site, sites
from suanli.catalog.gpus import Gpu, gpu, gpus
from suanli.catalog.models import ModelArch, load_hf_config, model, models
from suanli.catalog.prices import RentalPrice, reference_price, reference_prices, rental_prices

__all__ = [
    "City",
    "Gpu",
    "ModelArch",
    "RentalPrice",
    "Site",
    "cities",
    "city",
    "gpu",
    "gpus",
    "load_hf_config",
    "model",
    "models",
    "normalise",
    "place",
    "reference_price",
    "reference_prices",
    "rental_prices",
    "site",
    "sites",
]
