# ocrsearch on CPU.
#
#   docker build -t ocrsearch .
#   docker run --rm -v "$PWD/photos:/photos:ro" -v ocrsearch-db:/data ocrsearch ingest /photos
#   docker run --rm -v ocrsearch-db:/data ocrsearch search "budget"
#
# The database lives in the /data volume ($OCRSEARCH_DB). Photos are read from wherever they are
# mounted; search results name them by their path inside the container.

# ---- build stage: compilers for any package that builds from source ------------------------------
FROM python:3.11-slim AS build

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential cmake zlib1g-dev libbz2-dev liblzma-dev \
 && rm -rf /var/lib/apt/lists/*

RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH

# torch first and alone, from the CPU index: the default index would pull several GB of CUDA wheels.
RUN pip install --index-url https://download.pytorch.org/whl/cpu "torch>=2.4,<=2.14.1" "torchvision<=0.29.1"

# Dependencies before the source, so that editing code does not reinstall them.
WORKDIR /app
COPY pyproject.toml ./
RUN python -c "import tomllib; deps = tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']; \
print('\n'.join(d for d in deps if not d.startswith('torch')))" > /tmp/requirements.txt
RUN pip install -r /tmp/requirements.txt

# Editable install: the store finds its Alembic migrations next to the package (/app/alembic), and
# the model packages their weights in /app/*/weights.
COPY . .
RUN pip install --no-deps -e .

# ---- runtime stage ---------------------------------------------------------------------------
FROM python:3.11-slim

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    OCRSEARCH_DB=/data

RUN useradd --create-home --uid 1000 ocrsearch \
 && mkdir -p /data && chown ocrsearch:ocrsearch /data

COPY --from=build /opt/venv /opt/venv
COPY --from=build /app /app

USER ocrsearch
WORKDIR /home/ocrsearch
VOLUME ["/data"]

ENTRYPOINT ["ocrsearch"]
CMD ["--help"]
