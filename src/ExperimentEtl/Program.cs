// ExperimentEtl: loads users, compounds and experiments from CSV files into a database,
// derives per-user features and serves them (seed-compatible endpoints plus health probes).
using ExperimentEtl.Cli;
using ExperimentEtl.Configuration;
using ExperimentEtl.Endpoints;
using ExperimentEtl.Hosting;
using ExperimentEtl.Storage;
using ExperimentEtl.Telemetry;
using Scalar.AspNetCore;

// The command-line tool (etl, report; see Cli/) shares this executable. Anything else, and `serve`, runs the web service.
if (CliApp.Handles(args))
{
    return await CliApp.RunAsync(args);
}
args = CliApp.ServeArguments(args);

// Content (appsettings.json, the dashboard in wwwroot) is found next to the executable, whatever the working folder.
var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });

// Port 8000 like the seed, unless ASPNETCORE_URLS, ASPNETCORE_HTTP_PORTS or --urls say otherwise.
// Loopback by default; the container listens on all interfaces through ASPNETCORE_HTTP_PORTS.
if (string.IsNullOrEmpty(builder.Configuration["urls"]) && string.IsNullOrEmpty(builder.Configuration["http_ports"]) &&
    string.IsNullOrEmpty(builder.Configuration["https_ports"]))
{
    builder.WebHost.UseUrls("http://localhost:8000");
}

try
{
    var settings = builder.Services.AddEtlCore(builder.Configuration);
    builder.Services.AddEtlHttp(settings);
    builder.Services.AddEtlTelemetry(builder.Configuration);
}
catch (ConfigurationException e)
{
    await Console.Error.WriteLineAsync($"error: {e.Message}");
    return 1;
}

var app = builder.Build();

app.UseSecurityHeaders();
app.UseExceptionHandler();
app.UseStatusCodePages();
// The dashboard: plain static files in wwwroot, index.html at /.
app.UseDefaultFiles();
app.UseStaticFiles();
app.UseRateLimiter();

app.MapOpenApi();
app.MapScalarApiReference("/docs");
app.MapSeedEndpoints();
app.MapRunEndpoints();
app.MapReadEndpoints();
app.MapChangeEndpoints();
app.MapHealthEndpoints();
app.MapEtlMetrics();

// The schema is prepared in the background (StartupSchema): the server listens at once, whatever the database's state.
var options = app.Services.GetRequiredService<EtlOptions>();
StartupSchema.LogStarted(app.Logger, app.Services.GetRequiredService<DatabaseTarget>().Describe(), options.DataDirectory);
// Abandoned uploads and spills are deleted as the host starts (ScratchHousekeeping), before the server listens.

await app.RunAsync();
return 0;

/// <summary>Exposes the app to <c>WebApplicationFactory</c> in the tests.</summary>
public partial class Program;
