# syntax=docker/dockerfile:1
# ib-futures on the official Apache Airflow image: docs/deployment.md.
#
#   docker build -t ib-futures:0.1.0 .                                  # the Airflow image
#   docker build --build-arg PYTHON_VERSION=3.12 -t ib-futures:0.1.0-python3.12 .
#   docker build --target simulator -t ib-gateway-sim:0.1.0 .          # the IB Gateway simulator
#
# The default target (the last stage) is the Airflow image; it carries nothing of the
# simulator. The simulator, a distribution of its own (simulator/), gets a small image of its
# own for docker-compose.yaml's "simulator" profile: standard library only, no Airflow.
#
# The base image tag, AIRFLOW_VERSION below and pyproject.toml's apache-airflow pin move
# together; tests/deploy/test_dockerfile.py checks that they agree, lints this file with
# hadolint and runs its two pip commands in a throw-away virtual environment.

# One of the supported versions (pyproject.toml); its constraints file pins what is installed.
ARG PYTHON_VERSION=3.11

# --- stage 1: build the ib-futures wheel (as root in a plain Python image: the Airflow image
# refuses pip as root, and pip builds in the source tree, which needs write access there).
FROM python:${PYTHON_VERSION}-slim-bookworm AS wheel
ARG PYTHON_VERSION
COPY pyproject.toml README.md /src/
COPY plugins/ib_futures /src/plugins/ib_futures
# The committed lock of this Python version (./dev lock) travels with the wheel.
COPY constraints/py${PYTHON_VERSION}.txt /wheels/constraints.txt
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /wheels /src

# --- stage 2: build the ib-gateway-sim wheel (the simulator distribution, simulator/).
FROM python:${PYTHON_VERSION}-slim-bookworm AS simulator-wheel
COPY simulator/pyproject.toml simulator/README.md /src/
COPY simulator/src /src/src
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /wheels /src

# --- stage 3, build target "simulator": the simulator alone on a slim Python image, as an
# unprivileged user (nobody). Not part of the Airflow image below.
FROM python:${PYTHON_VERSION}-slim-bookworm AS simulator
LABEL org.opencontainers.image.title="ib-gateway-sim" \
      org.opencontainers.image.description="IB Gateway simulator speaking the TWS API wire protocol" \
      org.opencontainers.image.licenses="Apache-2.0"
RUN --mount=type=bind,from=simulator-wheel,source=/wheels,target=/wheels \
    pip install --no-cache-dir /wheels/ib_gateway_sim-*.whl
USER 65534:65534
EXPOSE 4002
CMD ["python", "-m", "ib_gateway_sim", "--host", "0.0.0.0", "--port", "4002"]

# --- stage 4 (the default target): the runtime image.
FROM apache/airflow:3.3.2-python${PYTHON_VERSION}

ARG AIRFLOW_VERSION=3.3.2

LABEL org.opencontainers.image.title="ib-futures" \
      org.opencontainers.image.description="Airflow 3 with ib-futures: CME index futures and ETF snapshots from Interactive Brokers into Delta Lake" \
      org.opencontainers.image.licenses="Apache-2.0"

# The image's non-root user "airflow" (uid 50000, gid 0), by number so that any runtime resolves
# it; pip installs into its user site.
USER 50000:0

# The official way to extend the image: name apache-airflow at the image's version in the same
# pip command, so resolving ib-futures' dependencies can never up- or downgrade Airflow, and
# hold everything to a constraints file (ours, the project's lock: the versions its tests ran).
RUN --mount=type=bind,from=wheel,source=/wheels,target=/wheels \
    pip install --no-cache-dir -c /wheels/constraints.txt \
        "apache-airflow==${AIRFLOW_VERSION}" /wheels/ib_futures-*.whl

# DAG files, the package's source (Airflow puts plugins/ on sys.path; the installed wheel,
# same code, is found first), and the configuration, found at
# $AIRFLOW_HOME/include/config/futures_config.yaml.
COPY --chown=50000:0 dags/ /opt/airflow/dags/
COPY --chown=50000:0 plugins/ /opt/airflow/plugins/
COPY --chown=50000:0 include/ /opt/airflow/include/

# Default lake location for docker-compose.yaml's named volume (IB_FUTURES_LAKE_URI); created
# here so that a fresh volume inherits the airflow user's ownership.
RUN mkdir -p /opt/airflow/lake
