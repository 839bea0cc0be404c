global using Aspire.Hosting;
global using Aspire.Hosting.ApplicationModel;
global using Microsoft.Extensions.Configuration;

// The local servers run Debian's Redis and PostgreSQL (ADR-001); on other systems use Artemis:Infrastructure=Containers.
[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]
