using Cluster.Silo.Hosting;

// The content root is the build output, where appsettings.json and wwwroot are, whatever the working directory.
var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });
builder.AddClusterDefaults();

var app = builder.Build();
app.UseClusterDefaults();
app.MapClusterEndpoints();

return await app.RunClusterAsync();
