using System.Runtime.Versioning;

// The silo is started, signalled and inspected through Linux processes and /proc.
[assembly: SupportedOSPlatform("linux")]
