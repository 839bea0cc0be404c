using System.Net;
using System.Net.Sockets;
using Artemis.AppHost.LocalServers;
using Artemis.ServiceDefaults;
using StackExchange.Redis;

namespace Artemis.AppHost.Tests.LocalServers;

public sealed class LocalRedisTests : IDisposable
{
    private readonly TestState _state = new();

    [Fact]
    public async Task Redis_starts_healthy_and_serves_commands_with_its_password()
    {
        await using var app = await LocalServersApp.StartRedisAsync(_state);
        await app.WaitHealthyAsync(ResourceNames.Redis);

        var connectionString = await app.ConnectionStringAsync(ResourceNames.Redis);
        Assert.Contains($"password={_state.RedisPassword}", connectionString, StringComparison.Ordinal);
        await using var redis = await ConnectionMultiplexer.ConnectAsync(connectionString);
        var db = redis.GetDatabase();
        await db.StringSetAsync("greeting", "hello");
        Assert.Equal("hello", (string?)await db.StringGetAsync("greeting"));
    }

    [Fact]
    public async Task Redis_refuses_a_wrong_password()
    {
        await using var app = await LocalServersApp.StartRedisAsync(_state);
        await app.WaitHealthyAsync(ResourceNames.Redis);

        var connectionString = await app.ConnectionStringAsync(ResourceNames.Redis);
        var wrong = connectionString.Replace(_state.RedisPassword, "not-the-password", StringComparison.Ordinal);
        var options = ConfigurationOptions.Parse(wrong);
        options.AbortOnConnectFail = true;
        options.ConnectTimeout = 3000;
        await Assert.ThrowsAsync<RedisConnectionException>(() => ConnectionMultiplexer.ConnectAsync(options));
    }

    [Fact]
    public async Task Redis_keeps_data_across_a_restart()
    {
        await using (var first = await LocalServersApp.StartRedisAsync(_state))
        {
            await first.WaitHealthyAsync(ResourceNames.Redis);
            await using var redis = await ConnectionMultiplexer.ConnectAsync(await first.ConnectionStringAsync(ResourceNames.Redis));
            await redis.GetDatabase().StringSetAsync("card:1", "kept");
        }

        await using var second = await LocalServersApp.StartRedisAsync(_state);
        await second.WaitHealthyAsync(ResourceNames.Redis);
        await using var again = await ConnectionMultiplexer.ConnectAsync(await second.ConnectionStringAsync(ResourceNames.Redis));
        Assert.Equal("kept", (string?)await again.GetDatabase().StringGetAsync("card:1"));
    }

    [Fact]
    public async Task Redis_binds_loopback_only_and_keeps_its_password_out_of_the_command_line()
    {
        await using var app = await LocalServersApp.StartRedisAsync(_state);
        await app.WaitHealthyAsync(ResourceNames.Redis);

        await using var redis = await ConnectionMultiplexer.ConnectAsync(
            await app.ConnectionStringAsync(ResourceNames.Redis) + ",allowAdmin=true");
        var server = redis.GetServers()[0];
        var bind = (await server.ConfigGetAsync("bind")).Single().Value;
        Assert.Equal("127.0.0.1 -::1", bind);
        Assert.Equal("yes", (await server.ConfigGetAsync("appendonly")).Single().Value);

        var configFile = Path.Combine(_state.DataDirectory(ResourceNames.Redis), "redis.conf");
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(configFile));
        foreach (var commandLine in ProcessTable.CommandLines())
        {
            Assert.DoesNotContain(_state.RedisPassword, commandLine, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Redis_without_its_program_fails_to_start_naming_the_package()
    {
        await using var app = await LocalServersApp.StartRedisAsync(_state, $"{DebianBinaries.RedisServerKey}=/nonexistent/redis-server");

        var log = await app.WaitFailedAsync(ResourceNames.Redis);
        Assert.Contains("'/nonexistent/redis-server' was not found", log, StringComparison.Ordinal);
        Assert.Contains("apt-get install -y redis-server", log, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Redis_on_a_port_in_use_fails_to_start_naming_the_port()
    {
        using var squatter = new TcpListener(IPAddress.Loopback, 0);
        squatter.Start();
        var port = ((IPEndPoint)squatter.LocalEndpoint).Port;

        await using var app = await LocalServersApp.StartAsync(_state, builder => builder.AddArtemisRedis(ResourceNames.Redis, port));

        var log = await app.WaitFailedAsync(ResourceNames.Redis);
        Assert.Contains($"port {port} on 127.0.0.1 is already in use", log, StringComparison.Ordinal);
    }

    public void Dispose() => _state.Dispose();
}
