FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY backend ./backend
COPY graph ./graph
COPY dashboard ./dashboard
RUN pip install --no-cache-dir .
ENV FT_HOST=0.0.0.0 FT_DATA_DIR=/data
VOLUME /data
EXPOSE 8000
CMD ["ftel", "serve"]
