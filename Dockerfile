# ExperimentEtl container image.
#   docker build -t experiment-etl .
#   docker run --rm -p 8000:8000 experiment-etl                        (embedded in-memory SQLite)
#   docker run --rm -p 8000:8000 -e DATABASE_URL=postgres://... experiment-etl
# compose.yaml runs it next to PostgreSQL.

# ---- build ----------------------------------------------------------------------------------------
FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
WORKDIR /src

# Restore first, from the project files alone, so that the restore layer stays cached until a package changes.
COPY Directory.Build.props Directory.Packages.props global.json .editorconfig ./
COPY src/ExperimentEtl/ExperimentEtl.csproj src/ExperimentEtl/
RUN dotnet restore src/ExperimentEtl/ExperimentEtl.csproj

# The csproj links ../../data/*.csv into the output's data/ folder: data/ must sit at /src/data.
COPY src/ src/
COPY data/ data/
RUN dotnet publish src/ExperimentEtl -c Release -o /app --no-restore -p:UseAppHost=false

# ---- runtime --------------------------------------------------------------------------------------
# The .NET 10 default tags are Ubuntu 24.04 based: bash and grep are there, curl and wget are not.
FROM mcr.microsoft.com/dotnet/aspnet:10.0 AS runtime
WORKDIR /app
COPY --from=build /app .

# Listen on all interfaces, port 8000 like the seed (Program.cs keeps loopback only when no port is configured).
ENV ASPNETCORE_HTTP_PORTS=8000
EXPOSE 8000

# The image's built-in non-root 'app' user (APP_UID is set by the base image). The app only reads /app.
USER $APP_UID

# Liveness probe without curl or wget: bash's /dev/tcp speaks HTTP to the first configured port.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["bash", "-c", "p=${ASPNETCORE_HTTP_PORTS:-8000}; exec 3<>/dev/tcp/127.0.0.1/${p%%[;,]*} && printf 'GET /healthz HTTP/1.0\\r\\nHost: localhost\\r\\n\\r\\n' >&3 && head -n 1 <&3 | grep -q ' 200 '"]

ENTRYPOINT ["dotnet", "ExperimentEtl.dll"]
