# flashsale: one image for every role; the command picks it (the entry point is `flashsale`):
#   api --host 0.0.0.0 (the default) · worker orders|relay|timeouts|all · operator · migrate
# Build it with `bash scripts/image`: no base image can be pulled here, so that script makes BASE from Debian's
# packages (debootstrap of bookworm with its Python 3.11, upgraded from bookworm-updates and bookworm-security; the
# tag is a hash of the recipe, which the script checks against this line; the base's label
# org.opencontainers.image.base.packages-digest, which this image inherits, names its package list) and builds
# the wheels of the project and its dependencies on the host into dist/wheels.
ARG BASE=localhost/flashsale-base:bookworm-cad9ab312b66

FROM ${BASE} AS build
ARG VERSION
COPY dist/wheels/ /wheels/
# From the wheels only: no index, no compiler, nothing editable; every version the one constraints.txt pins (the
# tested ones). pip leaves the environment once it is installed.
RUN python3 -m venv /opt/flashsale \
    && /opt/flashsale/bin/pip install --no-cache-dir --no-index --find-links /wheels -c /wheels/constraints.txt \
       "flashsale==${VERSION}" \
    && /opt/flashsale/bin/pip uninstall --yes --quiet pip setuptools

FROM ${BASE}
ARG VERSION
LABEL org.opencontainers.image.title="flashsale" \
      org.opencontainers.image.description="Flash-sale backend: API, order pipeline workers, operator, migrations" \
      org.opencontainers.image.version="${VERSION}"
# python3-venv's pip and setuptools wheels (for ensurepip) serve only the build stage's venv.
RUN rm -rf /usr/share/python-wheels \
    && groupadd --gid 10001 flashsale \
    && useradd --uid 10001 --gid flashsale --no-log-init --home-dir /nonexistent --no-create-home \
       --shell /usr/sbin/nologin flashsale
# Owned by root and read-only to the user; compiled at install, so nothing writes bytecode at run time.
COPY --from=build /opt/flashsale /opt/flashsale
# The root filesystem may be read-only: every write goes under /tmp (an emptyDir in Kubernetes): the API's
# metrics directory (TMPDIR), the development secret (FLASHSALE_STATE_DIR), anything that looks at HOME.
ENV PATH=/opt/flashsale/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp \
    TMPDIR=/tmp \
    FLASHSALE_STATE_DIR=/tmp/flashsale
USER 10001:10001
WORKDIR /tmp
# 8000: the API (and its /metrics); 9100: a worker's /metrics; 9200: the operator's /metrics.
EXPOSE 8000 9100 9200
ENTRYPOINT ["flashsale"]
CMD ["api", "--host", "0.0.0.0", "--port", "8000"]
