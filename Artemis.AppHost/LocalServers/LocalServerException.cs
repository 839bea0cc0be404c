namespace Artemis.AppHost.LocalServers;

/// <summary>
/// A local server cannot start because of something on this machine (a missing package, a port in use, a data folder
/// that is not what it should be). The message names the problem and the fix in one line.
/// </summary>
public sealed class LocalServerException(string message) : DistributedApplicationException(message);
