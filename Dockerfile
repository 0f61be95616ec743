# The image docker-compose.yaml runs (every Airflow service, the Celery workers and the sandboxes): the official
# Airflow 3.3.2 image plus woohub and its pinned dependencies (requirements.txt, constrained by
# requirements.lock: Airflow itself stays at the image's version, the Celery provider, Redis client and psycopg
# 3 are this project's pins). The project's dags/, plugins/ and great_expectations/ are copied in so the image
# runs on its own; the compose file mounts the working copies over them (and over include/, which is installed
# in editable mode, so a mounted include/ is what runs).
FROM apache/airflow:3.3.2-python3.11

USER root
# the sandbox service's state (a named volume takes this folder's owner when it is first created)
RUN mkdir -p /opt/woohub-state /opt/airflow/auth \
 && chown airflow:0 /opt/woohub-state /opt/airflow/auth \
 && chmod g+rwX /opt/woohub-state /opt/airflow/auth
USER airflow

COPY --chown=airflow:0 requirements.txt requirements.lock pyproject.toml README.md /opt/woohub/
RUN pip install --no-cache-dir -r /opt/woohub/requirements.txt -c /opt/woohub/requirements.lock
COPY --chown=airflow:0 include /opt/woohub/include
RUN pip install --no-cache-dir --no-deps -e /opt/woohub
COPY --chown=airflow:0 great_expectations /opt/woohub/great_expectations
COPY --chown=airflow:0 dags /opt/airflow/dags
COPY --chown=airflow:0 plugins /opt/airflow/plugins
