//! meshctl: the command line of the mesh. One module per subcommand in [`commands`]; the
//! platforms the mesh runs on in [`platform`]; install profiles in [`profile`].

pub mod profile;
