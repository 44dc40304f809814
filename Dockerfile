# One image for the three services; docker-compose.yml picks the service with its command.
FROM denoland/deno:2.9.6
WORKDIR /app
COPY deno.json deno.lock ./
COPY lib lib
COPY services services
COPY migrations migrations
RUN deno install && deno cache services/crud/main.ts services/listener/main.ts services/gateway/main.ts \
  && chown -R deno:deno /app
USER deno
ENV HOST=0.0.0.0
EXPOSE 8000 8080 8090
CMD ["deno", "task", "crud"]
